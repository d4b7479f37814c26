"""The public bundle (公开包) of a cycle, built by a worker: one row per request.

The finance user asks for it; an outbox row hands the build to the PDF worker after the
commit. The worker snapshots the cycle's confirmed evaluations, renders each one's public
PDF into a staging folder (one commit per form, so a build stopped anywhere resumes at the
next form), then writes the ZIP under PDF_DIR and marks the row ready. At most one build of
a cycle is queued or building at a time (a partial unique index), so a second request while
one is under way starts nothing. The job's columns and states: workflow/models/job.py.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.models.cycle import Cycle
from workflow.models.job import ACTIVE, JOB_STATE_LABELS, JOB_STATES, STATE_CHECK, JobMixin

BUNDLE_STATES = JOB_STATES
BUNDLE_STATE_LABELS = JOB_STATE_LABELS


class PublicBundle(JobMixin, db.Model):  # type: ignore[name-defined, misc]
    __tablename__ = "public_bundles"
    __table_args__ = (
        CheckConstraint(STATE_CHECK, name="state"),
        # One build of a cycle under way at a time: two requests at once make one row.
        Index(
            "uq_public_bundles_active_cycle",
            "cycle_id",
            unique=True,
            sqlite_where=text(ACTIVE),
            postgresql_where=text(ACTIVE),
        ),
    )

    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"), index=True)

    cycle: Mapped[Cycle] = relationship()
