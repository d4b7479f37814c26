"""Delivery of one claim's mail (a deadline reminder or a step notice), and the
synchronous run of `flask reminders run`.

It sits beside the claims (operations) and the step notices (workflow.notices.operations):
both kinds of claim go out here, so neither of those imports the other's mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import STAGES, Evaluation, ReminderClaim, User
from workflow.notices.operations import build_notify_mail
from workflow.reminders.operations import (
    NOTIFY_STAGE,
    SENDING_STALE,
    STATUS_FAILED,
    STATUS_RETRYING,
    STATUS_SENDING,
    STATUS_SENT,
    STATUS_SKIPPED,
    build_reminder_mail,
    claim_due,
)


class Delivery:
    """Outcome of one delivery attempt."""

    SENT = "sent"
    SKIPPED = "skipped"
    ALREADY = "already"
    IN_PROGRESS = "in_progress"
    MISSING = "missing"


def deliver(claim_id: int, as_of: datetime | None = None) -> str:
    """Send the mail of one claim (reminder or step notice). Raises MailError to retry.

    Re-reads everything: a claim already sent is a no-op (redelivery), and a reminder for
    an evaluation that has left its stage is skipped.
    """
    from workflow.core.mail import MailError, send_mail, valid_address

    begin_write()
    # The row lock makes a second delivery of the same claim (a redelivered or requeued
    # task) wait until the first has marked it "sending" (or sent), and then leave it;
    # SQLite's IMMEDIATE does the same.
    claim = db.session.execute(
        select(ReminderClaim)
        .where(ReminderClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if claim is None:
        db.session.rollback()
        return Delivery.MISSING
    if claim.status in (STATUS_SENT, STATUS_SKIPPED):
        db.session.rollback()
        return Delivery.ALREADY
    now = datetime.now(UTC)
    if claim.status == STATUS_SENDING and claim.sending_at is not None:
        since = (
            claim.sending_at if claim.sending_at.tzinfo else claim.sending_at.replace(tzinfo=UTC)
        )
        if now - since < SENDING_STALE:
            db.session.rollback()
            return Delivery.IN_PROGRESS
    user = db.session.get(User, claim.user_id)
    evaluation = db.session.get(Evaluation, claim.evaluation_id)
    if user is None or evaluation is None:
        return _finish(claim, STATUS_SKIPPED, "用户或评价已不存在")
    if claim.stage in STAGES and evaluation.state not in STAGES[claim.stage][1]:
        return _finish(claim, STATUS_SKIPPED, "评价已离开该阶段，不再提醒")
    if not user.active:
        return _finish(claim, STATUS_SKIPPED, "用户已停用")
    if not valid_address(user.email):
        return _finish(claim, STATUS_SKIPPED, "用户没有有效的邮箱地址（站内通知已生成）")
    if claim.stage == NOTIFY_STAGE:
        mail = build_notify_mail(claim, user, evaluation)
    else:
        mail = build_reminder_mail(claim, user, evaluation, as_of)
    if mail is None:
        return _finish(claim, STATUS_SKIPPED, "无邮件内容")
    # Mark and commit before talking to SMTP: a slow mail server must not hold the database
    # lock (on SQLite it would stop every web request that writes).
    claim.status = STATUS_SENDING
    claim.sending_at = now
    db.session.commit()
    try:
        send_mail(mail)
    except MailError:
        raise  # the task records the failure and retries with backoff
    except Exception as exc:  # a mail that cannot be built or sent at all: same path
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
    begin_write()
    claim = db.session.get(ReminderClaim, claim_id, populate_existing=True)
    if claim is None:
        db.session.rollback()
        return Delivery.MISSING
    claim.status = STATUS_SENT
    claim.attempts = (claim.attempts or 0) + 1
    claim.sent_at = datetime.now(UTC)
    claim.last_error = None
    db.session.commit()
    return Delivery.SENT


def _finish(claim: ReminderClaim, status: str, note: str) -> str:
    claim.status = status
    claim.last_error = note
    db.session.commit()
    return Delivery.SKIPPED


def record_failure(claim_id: int, error: str, final: bool) -> None:
    """Count a failed attempt; after the last retry the claim shows as failed to the admin."""
    db.session.rollback()
    begin_write()
    claim = db.session.get(ReminderClaim, claim_id)
    if claim is None:
        return
    claim.attempts = (claim.attempts or 0) + 1
    claim.last_error = error[:2000]
    claim.status = STATUS_FAILED if final else STATUS_RETRYING
    db.session.commit()


@dataclass
class RunSummary:
    claimed: int
    sent: int
    skipped: int
    failed: int
    errors: list[str] = field(default_factory=list)


def run_now(now: datetime) -> RunSummary:
    """Claim and send synchronously (the `flask reminders run` command); the beat task does
    the same claim and hands each claim to the mail queue instead."""
    from workflow.core.mail import MailError

    scan = claim_due(now)
    summary = RunSummary(claimed=len(scan.claim_ids), sent=0, skipped=0, failed=0)
    for claim_id in scan.claim_ids:
        try:
            outcome = deliver(claim_id, as_of=now)
        except MailError as exc:
            record_failure(claim_id, str(exc), final=True)
            summary.failed += 1
            summary.errors.append(str(exc))
            continue
        if outcome == Delivery.SENT:
            summary.sent += 1
        else:
            summary.skipped += 1
    return summary
