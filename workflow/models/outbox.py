"""The outbox: side effects (PDFs, notices) written in the same transaction as the change.

The row is the truth: it stays open (done_at NULL) until the task that did the work marks
it done in the task's own transaction. handed_out_at is the last time it went to the broker
(by the request right after its commit, or by the relay); the relay hands out again every
open row whose last hand-out is older than a few minutes, so no broker, worker or Redis
restart can lose a side effect. Every task is idempotent, so a second hand-out does nothing
when the first one finished.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.core.extensions import db
from workflow.models.user import utcnow


class OutboxMessage(db.Model):  # type: ignore[name-defined]
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('pdf', 'notify', 'bulk_import', 'public_bundle', 'sheets_zip')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The last hand-out to the broker; NULL: never handed out, or the hand-out failed.
    handed_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # Set by the task that did the work, in its own transaction.
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
