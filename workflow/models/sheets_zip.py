"""The ZIP of a cycle's 自评表 sheets a department or finance asks for, built by the bulk
worker: one row per request (the job's columns and states: workflow/models/job.py).

Its scope is the requester's: a department's reviewer gets its units' sheets
(`department_id`), finance every unit's (`all`); the file is the requester's alone. At most
one ZIP of a user is queued or building at a time (a partial unique index), so a second
request while one is under way starts nothing.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.models.cycle import Cycle
from workflow.models.job import ACTIVE, STATE_CHECK, JobMixin

SCOPES = ("department", "all")


class SheetsZip(JobMixin, db.Model):  # type: ignore[name-defined, misc]
    __tablename__ = "sheets_zips"
    __table_args__ = (
        CheckConstraint(STATE_CHECK, name="state"),
        CheckConstraint(f"scope IN {SCOPES}", name="scope"),
        Index(
            "uq_sheets_zips_active_user",
            "requested_by_id",
            unique=True,
            sqlite_where=text(ACTIVE),
            postgresql_where=text(ACTIVE),
        ),
    )

    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"), index=True)
    scope: Mapped[str] = mapped_column(String(10))
    # The reviewer's department when the scope is one department.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))

    cycle: Mapped[Cycle] = relationship()

    @property
    def scope_label(self) -> str:
        return "本部门所属单位" if self.scope == "department" else "全部单位"
