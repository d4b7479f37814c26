"""The beat task: claim what is due now and hand each claim to the mail queue."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="workflow.tasks.reminders.scan_reminders")
def scan_reminders(now_iso: str | None = None) -> dict[str, int]:
    from workflow.reminders import claim_due, stale_claims
    from workflow.tasks.mail import enqueue_claims

    now = datetime.fromisoformat(now_iso) if now_iso else datetime.now(UTC)
    scan = claim_due(now)
    # Claims left behind by a scan that died between its commit and the enqueue below.
    stale = [c for c in stale_claims(datetime.now(UTC)) if c not in set(scan.claim_ids)]
    enqueue_claims(scan.claim_ids, now.isoformat())
    enqueue_claims(stale)
    return {"claimed": len(scan.claim_ids), "requeued": len(stale)}
