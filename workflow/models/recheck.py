"""抽查复核 and 结果应用: re-check batches, their sampled items with the fourth score column
(复核), evidence requests, the risk facts the rules read, budget advice and 整改 items."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.machine import RECHECK_STATE_LABELS, RecheckState
from workflow.models.cycle import Cycle
from workflow.models.evaluation import Evaluation, StoredFile
from workflow.models.org import Org
from workflow.models.user import User, utcnow

Score = Numeric(7, 2)
Share = Numeric(5, 4)


class RecheckBatch(db.Model):  # type: ignore[name-defined]
    """复核批次: a sample of a cycle's evaluations, drawn once from a seed."""

    __tablename__ = "recheck_batches"
    __table_args__ = (
        CheckConstraint("method IN ('uniform', 'department', 'grade', 'risk')", name="method"),
        CheckConstraint("(rate IS NULL) <> (sample_count IS NULL)", name="rate_or_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))
    rate: Mapped[Decimal | None] = mapped_column(Share)
    sample_count: Mapped[int | None] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    population: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    cycle: Mapped[Cycle] = relationship()
    created_by: Mapped[User] = relationship()
    items: Mapped[list[RecheckItem]] = relationship(
        back_populates="batch", order_by="RecheckItem.id"
    )


class RecheckItem(db.Model):  # type: ignore[name-defined]
    """One sampled evaluation: its re-checker, its state and the 复核 total and grade."""

    __tablename__ = "recheck_items"
    __table_args__ = (
        UniqueConstraint("batch_id", "evaluation_id", name="uq_recheck_items_batch_evaluation"),
        CheckConstraint(
            "state IN ('assigned', 'checking', 'awaiting_evidence', 'done')", name="state"
        ),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(
            "recheck_total IS NULL OR (recheck_total >= 0 AND recheck_total <= 100)",
            name="recheck_total",
        ),
        Index("ix_recheck_items_rechecker_state", "rechecker_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("recheck_batches.id", ondelete="CASCADE"), index=True
    )
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="RESTRICT"), index=True
    )
    # Denormalised from the evaluation, as the evaluation does from its project.
    unit_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(20), default=RecheckState.ASSIGNED.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    rechecker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The risk findings when the sample was drawn: [{"key", "label", "reason"}].
    risks: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    recheck_total: Mapped[Decimal | None] = mapped_column(Score)
    recheck_grade: Mapped[str | None] = mapped_column(String(4))
    # Why the grade changed, as told to the unit and the department.
    conclusion: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    batch: Mapped[RecheckBatch] = relationship(back_populates="items")
    evaluation: Mapped[Evaluation] = relationship()
    unit: Mapped[Org] = relationship(foreign_keys=[unit_id])
    department: Mapped[Org] = relationship(foreign_keys=[department_id])
    rechecker: Mapped[User | None] = relationship()
    scores: Mapped[list[RecheckScore]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="RecheckScore.id"
    )
    requests: Mapped[list[EvidenceRequest]] = relationship(
        back_populates="item", order_by="EvidenceRequest.id"
    )

    # Two people acting at once: the loser's UPDATE finds no row and answers 409.
    __mapper_args__ = {"version_id_col": version}

    @property
    def state_label(self) -> str:
        return RECHECK_STATE_LABELS[RecheckState(self.state)]


class RecheckScore(db.Model):  # type: ignore[name-defined]
    """The fourth column (复核) of one indicator: never written over the other three."""

    __tablename__ = "recheck_scores"
    __table_args__ = (
        UniqueConstraint("item_id", "code", name="uq_recheck_scores_item_code"),
        CheckConstraint("score IS NULL OR score >= 0", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("recheck_items.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(50))
    score: Mapped[Decimal | None] = mapped_column(Score)
    reason: Mapped[str | None] = mapped_column(Text)

    item: Mapped[RecheckItem] = relationship(back_populates="scores")


class EvidenceRequest(db.Model):  # type: ignore[name-defined]
    """The re-checker asks the unit for more evidence; the unit answers on its page."""

    __tablename__ = "recheck_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("recheck_items.id", ondelete="CASCADE"), index=True
    )
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="RESTRICT"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    asked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    item: Mapped[RecheckItem] = relationship(back_populates="requests")
    files: Mapped[list[AnswerFile]] = relationship(
        back_populates="request", order_by="AnswerFile.id"
    )


class AnswerFile(StoredFile, db.Model):  # type: ignore[name-defined]
    """A file the unit attached to its answer to an evidence request: checked, scanned and
    stored like the evaluation's evidence (workflow/evaluations/evidence.py), but seen only
    by the item's re-checker, finance and the unit itself, not by everyone who sees the
    evaluation."""

    __tablename__ = "recheck_answer_files"
    __table_args__ = (CheckConstraint("size >= 0", name="size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("recheck_requests.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("recheck_items.id", ondelete="CASCADE"), index=True
    )

    request: Mapped[EvidenceRequest] = relationship(back_populates="files")


class RiskFacts(db.Model):  # type: ignore[name-defined]
    """What the risk rules read, one row per submitted evaluation, as plain columns, so that
    a batch over a million evaluations reads one narrow table (workflow/rechecks/risk.py)."""

    __tablename__ = "risk_facts"

    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    # The evaluation's version the facts were taken from: older ones are taken again.
    evaluation_version: Mapped[int] = mapped_column(Integer)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(Integer)
    self_total: Mapped[Decimal | None] = mapped_column(Score)
    self_grade: Mapped[str | None] = mapped_column(String(4))
    dept_total: Mapped[Decimal | None] = mapped_column(Score)
    execution_rate: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    qualitative_rows: Mapped[int] = mapped_column(Integer, default=0)
    qualitative_full: Mapped[int] = mapped_column(Integer, default=0)
    shortfall_full: Mapped[int] = mapped_column(Integer, default=0)
    over_no_reason: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    tier_mismatch: Mapped[int] = mapped_column(Integer, default=0)
    adjusted_on: Mapped[date | None] = mapped_column(Date)
    # The adjustment's month counted from January of the cycle's year (risk.Facts).
    adjusted_month: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BudgetAdvice(db.Model):  # type: ignore[name-defined]
    """Next year's budget advice for one evaluation where finance changed the default of its
    grade (the defaults come from configuration), with the reason."""

    __tablename__ = "budget_advice"
    __table_args__ = (
        UniqueConstraint("evaluation_id", name="uq_budget_advice_evaluation"),
        CheckConstraint("advice IN ('prioritise', 'keep', 'cut', 'suspend')", name="advice"),
        CheckConstraint("cut_share IS NULL OR (cut_share >= 0 AND cut_share <= 1)", name="share"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    advice: Mapped[str] = mapped_column(String(20))
    cut_share: Mapped[Decimal | None] = mapped_column(Share)
    reason: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Rectification(db.Model):  # type: ignore[name-defined]
    """整改 item: a problem (存在问题) and its measure (整改措施), an owner and a due date;
    reminded until closed."""

    __tablename__ = "rectifications"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'closed')", name="state"),
        Index("ix_rectifications_state_due", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    problem: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), default="open")
    closing_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_reminded_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Owner and due date are edited on the page, the item closed there: each of those moves
    # checks and bumps it (two people at once, the second gets 409). The daily reminder's
    # bookkeeping does not, so a page opened before 08:30 still saves after it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    evaluation: Mapped[Evaluation] = relationship()
    owner: Mapped[User] = relationship()
    unit: Mapped[Org] = relationship(foreign_keys=[unit_id])

    @property
    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "due_on": self.due_on.isoformat()}
