"""The outbox, handed to Celery after the state change committed.

`dispatch(ids)` is called by the operations after their commit; it never raises: with the
broker down the rows stay undispatched and `relay_outbox` (beat) sends them later. A
state change therefore never waits for, or depends on, the broker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from workflow.extensions import db
from workflow.models import OutboxMessage

log = logging.getLogger(__name__)

RELAY_AFTER = timedelta(seconds=5)
RELAY_BATCH = 500


def _send(message: OutboxMessage) -> None:
    from workflow.tasks.notify import handle_notify_message
    from workflow.tasks.pdf import render_evaluation_pdf

    payload = message.payload or {}
    if message.kind == "pdf":
        render_evaluation_pdf.apply_async(
            args=[int(payload["evaluation_id"]), int(payload["version"])], queue="pdf", retry=False
        )
    elif message.kind == "notify":
        handle_notify_message.apply_async(args=[message.id], queue="mail", retry=False)
    else:
        raise ValueError(f"unknown outbox kind {message.kind!r}")


def _dispatch_rows(messages: list[OutboxMessage]) -> int:
    done = 0
    for message in messages:
        if message.dispatched_at is not None:
            continue
        try:
            _send(message)
        except Exception as exc:  # broker down, or a bad row: keep it for the relay
            message.attempts = (message.attempts or 0) + 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("outbox %s not dispatched: %s", message.id, message.last_error)
            break
        message.dispatched_at = datetime.now(UTC)
        message.last_error = None
        done += 1
    db.session.commit()
    return done


def dispatch(message_ids: list[int]) -> None:
    """Send these outbox rows to their queues and mark them dispatched. Never raises."""
    if not message_ids or not current_app.config.get("OUTBOX_DISPATCH", True):
        return
    try:
        rows = list(
            db.session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(message_ids), OutboxMessage.dispatched_at.is_(None))
                .order_by(OutboxMessage.id)
            ).scalars()
        )
        _dispatch_rows(rows)
    except Exception:
        log.exception("outbox dispatch failed; the relay will retry %s", message_ids)
        try:
            db.session.rollback()
        except Exception:
            log.exception("rollback after dispatch failure failed")


def relay(now: datetime | None = None, older_than: timedelta = RELAY_AFTER) -> int:
    """Dispatch undispatched rows older than `older_than` (younger ones are the request's own
    dispatch, still in flight). Returns how many went to the broker."""
    cutoff = (now or datetime.now(UTC)) - older_than
    rows = list(
        db.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None), OutboxMessage.created_at <= cutoff)
            .order_by(OutboxMessage.id)
            .limit(RELAY_BATCH)
        ).scalars()
    )
    if not rows:
        return 0
    sent = _dispatch_rows(rows)
    log.info("outbox relay: %d of %d dispatched", sent, len(rows))
    return sent


@shared_task(name="workflow.tasks.outbox.relay_outbox", queue="default")
def relay_outbox() -> int:
    return relay()
