"""What every job a worker builds in pieces has in its row (the public bundle, the
department's ZIP of 自评表 sheets): who asked and when, the state, the snapshot of the
evaluations to go in, the progress, the claim of the worker holding it, the file.

A row is queued by the request, building while a worker holds it (`claimed_at`, refreshed
after every piece; a claim older than a few minutes is taken over), then ready (its file
under `path`) or failed (a Chinese message in `error`). The machinery is
workflow/core/jobs.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from workflow.models.user import User, utcnow

JOB_STATES = ("queued", "building", "ready", "failed")
JOB_STATE_LABELS = {
    "queued": "排队中",
    "building": "正在生成",
    "ready": "已生成",
    "failed": "生成失败",
}
ACTIVE_STATES = ("queued", "building")
ACTIVE = "state IN ('queued', 'building')"
STATE_CHECK = f"state IN {JOB_STATES}"


class JobMixin:
    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    # The evaluations when the build started, in the file's order.
    evaluation_ids: Mapped[list[int] | None] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Evaluations handled (written, or skipped: no longer to be included) so far; in the ZIP.
    done: Mapped[int] = mapped_column(Integer, default=0)
    forms: Mapped[int] = mapped_column(Integer, default=0)
    # Set by the worker holding the build, refreshed after every piece; stale ones are free.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Relative to the job kind's folder; cleared when a newer job replaces the file.
    path: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)

    @declared_attr
    def requested_by(cls) -> Mapped[User]:  # noqa: N805
        return relationship(User, foreign_keys=lambda: [cls.requested_by_id])  # type: ignore[attr-defined]

    @property
    def state_label(self) -> str:
        return JOB_STATE_LABELS[self.state]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES
