"""In-app notices, reminder claims and mail failures."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.models.user import User, utcnow


class Notice(db.Model):  # type: ignore[name-defined]
    """What a user sees in the app: every step and every reminder."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    evaluation_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class ReminderClaim(db.Model):
    """One reminder per (evaluation, stage, step, user), claimed before the mail is sent.

    The unique key makes a second beat process or a redelivered message a no-op.
    """

    __tablename__ = "reminder_claims"
    __table_args__ = (
        UniqueConstraint(
            "evaluation_id", "stage", "step", "user_id", name="uq_reminder_claims_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(20))
    # "d7", "d3", "d1" before the deadline; "o2026-04-01" for each overdue day.
    step: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    deadline: Mapped[date] = mapped_column(Date)
    # claimed, sending, retrying, sent, skipped, failed
    status: Mapped[str] = mapped_column(String(10), default="claimed")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when a worker starts talking to SMTP (status "sending"): the database lock is not
    # held meanwhile; a delivery that finds a fresh mark leaves the mail to that worker.
    sending_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
