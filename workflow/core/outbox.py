"""The outbox, handed to Celery after the state change committed.

`dispatch(ids)` is called by the operations after their commit; it never raises: with the
broker down the rows stay undispatched and `relay_outbox` (beat) sends them later. A
state change therefore never waits for, or depends on, the broker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import celery
from celery import shared_task
from flask import current_app
from sqlalchemy import select, update

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import OutboxMessage

log = logging.getLogger(__name__)

RELAY_AFTER = timedelta(seconds=5)
RELAY_BATCH = 500


# The features' tasks, by their registered names: the relay is plumbing and imports no
# feature (the task modules are registered by workflow.core.celery).
PDF_TASK = "workflow.tasks.pdf.render_evaluation_pdf"
NOTIFY_TASK = "workflow.tasks.notify.handle_notify_message"


def _task(name: str) -> Any:
    # The current Celery app, as the shared_task proxies resolved it.
    return celery.current_app.tasks[name]


def _send(message_id: int, kind: str, payload: dict[str, Any]) -> None:
    if kind == "pdf":
        _task(PDF_TASK).apply_async(
            args=[int(payload["evaluation_id"]), int(payload["version"])], queue="pdf", retry=False
        )
    elif kind == "notify":
        _task(NOTIFY_TASK).apply_async(args=[message_id], queue="mail", retry=False)
    else:
        raise ValueError(f"unknown outbox kind {kind!r}")


def _dispatch_rows(condition: Any, limit: int | None = None) -> int:
    """Send the undispatched rows matching `condition`, then mark them in a new transaction.

    The read transaction ends before anything is sent: a fast worker may write (the PDF
    row, the notices) before we mark the rows, and on SQLite a read transaction that
    later writes after another connection wrote fails with "database is locked".
    """
    query = (
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.payload)
        .where(condition, OutboxMessage.dispatched_at.is_(None))
        .order_by(OutboxMessage.id)
    )
    if limit:
        query = query.limit(limit)
    rows = [(int(i), str(k), dict(p or {})) for i, k, p in db.session.execute(query)]
    db.session.rollback()
    if not rows:
        return 0
    sent: list[int] = []
    failed: tuple[int, str] | None = None
    for message_id, kind, payload in rows:
        try:
            _send(message_id, kind, payload)
        except Exception as exc:  # broker down, or a bad row: keep it for the relay
            failed = (message_id, f"{type(exc).__name__}: {exc}"[:2000])
            log.warning("outbox %s not dispatched: %s", message_id, failed[1])
            break
        sent.append(message_id)
    begin_write()
    if sent:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(sent))
            .values(dispatched_at=datetime.now(UTC), last_error=None)
        )
    if failed is not None:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == failed[0])
            .values(attempts=OutboxMessage.attempts + 1, last_error=failed[1])
        )
    db.session.commit()
    return len(sent)


def dispatch(message_ids: list[int]) -> None:
    """Send these outbox rows to their queues and mark them dispatched. Never raises."""
    if not message_ids or not current_app.config.get("OUTBOX_DISPATCH", True):
        return
    try:
        _dispatch_rows(OutboxMessage.id.in_([int(i) for i in message_ids]))
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
    sent = _dispatch_rows(OutboxMessage.created_at <= cutoff, limit=RELAY_BATCH)
    if sent:
        log.info("outbox relay: %d dispatched", sent)
    return sent


@shared_task(name="workflow.tasks.outbox.relay_outbox")
def relay_outbox() -> int:
    return relay()
