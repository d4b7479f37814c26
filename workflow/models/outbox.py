"""The outbox: side effects (PDFs, notices) written in the same transaction as the change.

After the commit the rows are handed to Celery; if the broker is down they wait, and the
periodic relay sends them later. A state change never depends on the broker.
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
    __table_args__ = (CheckConstraint("kind IN ('pdf', 'notify')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
