"""The public bundle (公开包) of a cycle, built by a worker: one row per request.

The finance user asks for it; an outbox row hands the build to the PDF worker after the
commit. The worker snapshots the cycle's confirmed evaluations, renders each one's public
PDF into a staging folder (one commit per form, so a build stopped anywhere resumes at the
next form), then writes the ZIP under PDF_DIR and marks the row ready. At most one build of
a cycle is queued or building at a time (a partial unique index), so a second request while
one is under way starts nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.models.cycle import Cycle
from workflow.models.user import User, utcnow

BUNDLE_STATES = ("queued", "building", "ready", "failed")
BUNDLE_STATE_LABELS = {
    "queued": "排队中",
    "building": "正在生成",
    "ready": "已生成",
    "failed": "生成失败",
}
ACTIVE = "state IN ('queued', 'building')"


class PublicBundle(db.Model):  # type: ignore[name-defined]
    __tablename__ = "public_bundles"
    __table_args__ = (
        CheckConstraint(f"state IN {BUNDLE_STATES}", name="state"),
        # One build of a cycle under way at a time: two requests at once make one row.
        Index(
            "uq_public_bundles_active_cycle",
            "cycle_id",
            unique=True,
            sqlite_where=text(ACTIVE),
            postgresql_where=text(ACTIVE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    # The confirmed evaluations when the build started, in the bundle's order.
    evaluation_ids: Mapped[list[int] | None] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Forms rendered (or skipped: reopened since the snapshot) so far; forms in the ZIP.
    done: Mapped[int] = mapped_column(Integer, default=0)
    forms: Mapped[int] = mapped_column(Integer, default=0)
    # Set by the worker holding the build, refreshed after every form; stale ones are free.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Relative to PDF_DIR; cleared when a newer bundle of the cycle replaces the file.
    path: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)

    cycle: Mapped[Cycle] = relationship()
    requested_by: Mapped[User] = relationship()

    @property
    def state_label(self) -> str:
        return BUNDLE_STATE_LABELS[self.state]

    @property
    def active(self) -> bool:
        return self.state in ("queued", "building")
