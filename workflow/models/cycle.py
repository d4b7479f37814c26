"""Evaluation cycles (年度评价任务): a year, a scheme and a deadline for each stage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.models.user import utcnow

# Stage key -> (Chinese label, the state an evaluation is in while the stage is open).
STAGES = {
    "submit": ("单位填报", ("draft",)),
    "review": ("主管部门审核", ("self_scored", "dept_review")),
    "confirm": ("财政确认", ("finance_confirmation",)),
}
DEFAULT_LADDER = [7, 3, 1]


class Cycle(db.Model):  # type: ignore[name-defined]
    __tablename__ = "cycles"
    __table_args__ = (
        CheckConstraint("day_kind IN ('calendar', 'working')", name="day_kind"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scheme_key: Mapped[str] = mapped_column(String(100))
    scheme_version: Mapped[str] = mapped_column(String(50))
    # The scheme as it was when the cycle was set up; evaluations copy it on creation.
    # Deferred: pages read a cycle for its name and deadlines on every request.
    scheme: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    # The framework (评价框架) every project's targets fill; None only for a cycle whose
    # scheme has no weighted first levels to share.
    framework_id: Mapped[int | None] = mapped_column(ForeignKey("frameworks.id"))
    deadline_submit: Mapped[date] = mapped_column(Date)
    deadline_review: Mapped[date] = mapped_column(Date)
    deadline_confirm: Mapped[date] = mapped_column(Date)
    reminder_days: Mapped[list[int]] = mapped_column(JSON, default=lambda: list(DEFAULT_LADDER))
    day_kind: Mapped[str] = mapped_column(String(10), default="calendar")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    framework: Mapped[Any] = relationship("FrameworkRecord")

    def deadline_for(self, stage: str) -> date:
        return {
            "submit": self.deadline_submit,
            "review": self.deadline_review,
            "confirm": self.deadline_confirm,
        }[stage]

    def __repr__(self) -> str:
        return f"<Cycle {self.year} {self.name}>"
