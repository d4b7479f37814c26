"""The reminders' Celery tasks: send the mail of one delivery claim (a reminder or a step
notice) with retries, and the beat task that claims what is due and hands each claim on."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from flask import current_app

log = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    value = current_app.config.get(name) or os.environ.get(name)
    return int(value) if value not in (None, "") else default


def backoff(retries: int, base: int, cap: int) -> int:
    """Exponential back-off with jitter, capped below the broker's visibility timeout."""
    delay = min(cap, base * (2**retries))
    return max(1, int(delay * random.uniform(0.8, 1.0)))


@shared_task(name="workflow.tasks.mail.send_claim_mail", bind=True, max_retries=None)
def send_claim_mail(self: Any, claim_id: int, as_of_iso: str | None = None) -> str:
    from workflow.core.mail import MailError
    from workflow.reminders.delivery import deliver, record_failure

    max_retries, base, cap = retry_settings()
    try:
        return deliver(int(claim_id), datetime.fromisoformat(as_of_iso) if as_of_iso else None)
    except MailError as exc:
        final = self.request.retries >= max_retries
        record_failure(int(claim_id), str(exc), final=final)
        if final:
            log.error(
                "mail for claim %s failed after %d attempts: %s",
                claim_id,
                self.request.retries + 1,
                exc,
            )
            return "failed"
        countdown = backoff(self.request.retries, base, cap)
        log.warning("mail for claim %s failed (%s); retry in %d s", claim_id, exc, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc


def retry_settings() -> tuple[int, int, int]:
    """(max retries, base delay, cap) of the mail task, the same for beat and the CLI."""
    import celeryconfig

    max_retries = _setting("MAIL_MAX_RETRIES", celeryconfig.MAIL_MAX_RETRIES)
    base = _setting("MAIL_RETRY_BASE_SECONDS", 30)
    cap = min(
        _setting("MAIL_RETRY_MAX_SECONDS", celeryconfig.RETRY_BACKOFF_MAX),
        celeryconfig.RETRY_BACKOFF_MAX,
    )
    return max_retries, base, cap


def retry_later(claim_id: int, as_of_iso: str | None = None) -> bool:
    """After a first attempt failed outside the mail task (`flask reminders run`): hand the
    claim to the mail task as its first retry, after the first back-off delay. False when
    the broker is away too (the claim stays "retrying"; the next scan requeues it)."""
    _max, base, cap = retry_settings()
    try:
        send_claim_mail.apply_async(
            args=[claim_id, as_of_iso], queue="mail", countdown=backoff(0, base, cap), retries=1
        )
    except Exception:
        log.exception("claim %s could not be queued for retry", claim_id)
        return False
    return True


def enqueue_claims(claim_ids: list[int], as_of_iso: str | None = None) -> int:
    """Hand each claim to the mail queue; returns how many were sent to the broker."""
    sent = 0
    for claim_id in claim_ids:
        send_claim_mail.apply_async(args=[claim_id, as_of_iso], queue="mail")
        sent += 1
    return sent


@shared_task(name="workflow.tasks.reminders.scan_reminders")
def scan_reminders(now_iso: str | None = None) -> dict[str, int]:
    from workflow.reminders.operations import claim_due, stale_claims

    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
    scan = claim_due(now)
    # Claims left behind by a scan that died between its commit and the enqueue below.
    stale = [c for c in stale_claims(datetime.now(UTC)) if c not in set(scan.claim_ids)]
    enqueue_claims(scan.claim_ids, now.isoformat())
    enqueue_claims(stale)
    return {"claimed": len(scan.claim_ids), "requeued": len(stale)}


def enqueue_from_request(claim_ids: list[int]) -> None:
    """Queue these claims' mails from a web request: on the outbox's publisher thread, so the
    request never waits for the broker. A claim whose queueing is lost stays "claimed" with
    no attempt, and the next scan requeues it."""
    from workflow.core.outbox import publish_soon

    if not claim_ids:
        return
    if current_app.extensions["celery"].conf.task_always_eager:
        enqueue_claims(claim_ids)
        return

    def run() -> int:
        try:
            return enqueue_claims(claim_ids)
        except Exception:
            log.exception("claims %s not queued; the next scan requeues them", claim_ids)
            return 0

    publish_soon(run)


# `flask reminders run`: the scan without beat; a claim whose mail fails goes on through
# the same mail task as the beat's (retry_later above).
@dataclass
class RunSummary:
    claimed: int
    sent: int
    skipped: int
    # Failed now and handed to the mail queue, which retries with the beat's back-off.
    retrying: int
    # Failed now and not even queued (the broker away too): the next scan requeues them.
    failed: int
    errors: list[str] = field(default_factory=list)


def run_now(now: datetime) -> RunSummary:
    """Claim and send what is due now (the `flask reminders run` command): one attempt here,
    and a claim that fails goes on through the same mail task as the beat's, with the same
    back-off, so a mail server that is down only delays the mail."""
    from workflow.core.mail import MailError
    from workflow.reminders.delivery import Delivery, deliver, record_failure
    from workflow.reminders.operations import claim_due

    scan = claim_due(now)
    summary = RunSummary(claimed=len(scan.claim_ids), sent=0, skipped=0, retrying=0, failed=0)
    for claim_id in scan.claim_ids:
        try:
            outcome = deliver(claim_id, as_of=now)
        except MailError as exc:
            record_failure(claim_id, str(exc), final=False)
            summary.errors.append(str(exc))
            if retry_later(claim_id, now.isoformat()):
                summary.retrying += 1
            else:
                summary.failed += 1
            continue
        if outcome == Delivery.SENT:
            summary.sent += 1
        else:
            summary.skipped += 1
    return summary
