"""Projects, their evaluations, per-indicator score rows and evidence files."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.machine import STATE_LABELS, State
from workflow.models.cycle import Cycle
from workflow.models.digest import snapshot_digest
from workflow.models.org import Org
from workflow.models.targets import FrameworkRecord, TargetVersion, compiled_scheme
from workflow.models.types import EncryptedText
from workflow.models.user import User, utcnow

Money = Numeric(18, 2)
Score = Numeric(7, 2)


class SchemeSnapshot(db.Model):  # type: ignore[name-defined]
    """A scheme exactly as an evaluation was created with it; immutable, shared by content.

    Thousands of evaluations of a cycle share one snapshot: one row instead of 20 KB of JSON
    in every evaluation (which also kept the evaluation rows narrow enough for fast lists).
    """

    __tablename__ = "scheme_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    # Deferred: pages that only need the digest (to find the parsed scheme in the process
    # cache) never load the JSON.
    content: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def snapshot_for(content: dict[str, Any]) -> SchemeSnapshot:
    """The stored snapshot with this content, created when it is new (no commit)."""
    digest = snapshot_digest(content)
    found = db.session.scalar(select(SchemeSnapshot).where(SchemeSnapshot.digest == digest))
    if found is not None:
        return found
    snapshot = SchemeSnapshot(
        digest=digest,
        name=str(content.get("name", "")),
        version=str(content.get("version", "")),
        content=content,
    )
    db.session.add(snapshot)
    return snapshot


class Project(db.Model):  # type: ignore[name-defined]
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(
            "(budget_initial IS NULL OR budget_initial >= 0) AND (budget_full IS NULL OR budget_full >= 0)"
            " AND (funds_arrived IS NULL OR funds_arrived >= 0) AND (spent IS NULL OR spent >= 0)",
            name="amounts_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    # 项目编码 of the budget system (预算管理一体化): imports of targets match on it.
    code: Mapped[str | None] = mapped_column(String(60), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    budget_initial: Mapped[Decimal | None] = mapped_column(Money)  # 年初预算数
    budget_full: Mapped[Decimal | None] = mapped_column(Money)  # 全年预算数 (A)
    funds_arrived: Mapped[Decimal | None] = mapped_column(Money)  # 实际到位
    spent: Mapped[Decimal | None] = mapped_column(Money)  # 全年执行数 (B)
    amount_unit: Mapped[str] = mapped_column(String(10), default="万元")

    unit: Mapped[Org] = relationship()


class Evaluation(db.Model):  # type: ignore[name-defined]
    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("project_id", "cycle_id", name="uq_evaluations_project_cycle"),
        CheckConstraint(
            "state IN ('draft', 'self_scored', 'dept_review', 'finance_confirmation', 'confirmed')",
            name="state",
        ),
        CheckConstraint("version >= 1", name="version"),
        # Lists, queues and counts filter by scope and state and sort by the cycle's deadline:
        # these answer them from the index alone (the row id comes with every index entry).
        Index("ix_evaluations_department_state_cycle", "department_id", "state", "cycle_id"),
        Index("ix_evaluations_unit_state_cycle", "unit_id", "state", "cycle_id"),
        Index("ix_evaluations_state_cycle", "state", "cycle_id"),
        CheckConstraint(
            "self_total IS NULL OR (self_total >= 0 AND self_total <= 100)", name="self_total"
        ),
        CheckConstraint(
            "dept_total IS NULL OR (dept_total >= 0 AND dept_total <= 100)", name="dept_total"
        ),
        CheckConstraint(
            "final_total IS NULL OR (final_total >= 0 AND final_total <= 100)", name="final_total"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"), index=True)
    # Denormalised from the project so that scoped queues are one indexed filter.
    unit_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(30), default=State.DRAFT.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The scheme as it was when this evaluation was created: a later change never alters it.
    # Evaluations created before frameworks and targets existed kept a whole scheme; since
    # migration 0003 every evaluation names its framework and the target version in force
    # when it was created, and the scheme is compiled from the two (models/targets.py).
    scheme_id: Mapped[int | None] = mapped_column(
        ForeignKey("scheme_snapshots.id", ondelete="RESTRICT"), index=True
    )
    framework_id: Mapped[int | None] = mapped_column(ForeignKey("frameworks.id"))
    target_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("target_versions.id"), index=True
    )
    self_total: Mapped[Decimal | None] = mapped_column(Score)
    self_grade: Mapped[str | None] = mapped_column(String(4))
    dept_total: Mapped[Decimal | None] = mapped_column(Score)
    dept_grade: Mapped[str | None] = mapped_column(String(4))
    final_total: Mapped[Decimal | None] = mapped_column(Score)
    final_grade: Mapped[str | None] = mapped_column(String(4))
    main_results: Mapped[str] = mapped_column(Text, default="")  # 主要成效
    problems: Mapped[str] = mapped_column(Text, default="")  # 存在问题
    measures: Mapped[str] = mapped_column(Text, default="")  # 整改措施
    filled_by: Mapped[str] = mapped_column(String(100), default="")  # 填报人
    # 联系电话, SM4-GCM at rest (models/types.py)
    phone: Mapped[str] = mapped_column(EncryptedText("evaluations.phone"), default="")
    unit_head: Mapped[str] = mapped_column(String(100), default="")  # 单位负责人
    # The overall opinions (审核意见) of the department at approval and of finance at
    # confirmation; cleared when that stage's scores are cleared (a return, a reopen).
    dept_opinion: Mapped[str | None] = mapped_column(Text)
    final_opinion: Mapped[str | None] = mapped_column(Text)
    # The reason of the return that sent the form back to where it is now (退回), until the
    # form moves forward again: every page the unit or department sees says it was returned.
    returned_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stage_entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The large JSON columns come last: SQLite reads a row's columns in order, and a list
    # that needs only the short ones then never walks these values' overflow pages.
    # What the unit entered, by indicator code (see scoring's entry format).
    entries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Published values of an imported form, kept apart from what the system computes.
    published: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    scheme_snapshot: Mapped[SchemeSnapshot | None] = relationship()
    framework: Mapped[FrameworkRecord | None] = relationship()
    target_version: Mapped[TargetVersion | None] = relationship()
    project: Mapped[Project] = relationship()
    cycle: Mapped[Cycle] = relationship()
    unit: Mapped[Org] = relationship(foreign_keys=[unit_id])
    department: Mapped[Org] = relationship(foreign_keys=[department_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    confirmer: Mapped[User | None] = relationship(foreign_keys=[confirmer_id])
    rows: Mapped[list[IndicatorScore]] = relationship(
        back_populates="evaluation",
        order_by="IndicatorScore.position",
        cascade="all, delete-orphan",
    )
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="evaluation", order_by="Evidence.uploaded_at"
    )

    # Every UPDATE carries "WHERE version = <the version read>": the loser of a race
    # updates no row, SQLAlchemy raises StaleDataError and the request answers 409.
    __mapper_args__ = {"version_id_col": version}

    @property
    def scheme(self) -> dict[str, Any]:
        """The frozen scheme (JSON), as scoring.scheme_from_dict reads it."""
        if self.framework is not None and self.target_version is not None:
            return compiled_scheme(self.framework, self.target_version)
        assert self.scheme_snapshot is not None, "an evaluation without a scheme"
        return self.scheme_snapshot.content

    @scheme.setter
    def scheme(self, content: dict[str, Any]) -> None:
        """Freeze exactly this scheme, with no framework and targets behind it (what the
        migration leaves for a scheme it could not split)."""
        self.scheme_snapshot = snapshot_for(content)
        self.framework = None
        self.target_version = None

    @property
    def scheme_key(self) -> str:
        """A string naming the scheme's content: keys per-process caches of parsed schemes
        and rendered rows."""
        if self.framework is not None and self.target_version is not None:
            return f"{self.framework.digest}:{self.target_version.digest}"
        assert self.scheme_snapshot is not None
        return self.scheme_snapshot.digest

    @property
    def state_enum(self) -> State:
        return State(self.state)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[State(self.state)]

    def current_total(self) -> tuple[Decimal | None, str | None]:
        """The total and grade of the stage the evaluation has reached."""
        if self.final_total is not None:
            return self.final_total, self.final_grade
        if self.dept_total is not None:
            return self.dept_total, self.dept_grade
        return self.self_total, self.self_grade

    def __repr__(self) -> str:
        return f"<Evaluation {self.id} {self.state} v{self.version}>"


class IndicatorScore(db.Model):  # type: ignore[name-defined]
    """One indicator of one evaluation: three score columns that never overwrite each other."""

    __tablename__ = "indicator_scores"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "code", name="uq_indicator_scores_evaluation_code"),
        CheckConstraint("weight >= 0", name="weight"),
        CheckConstraint(
            "self_score IS NULL OR (self_score >= 0 AND self_score <= weight)", name="self_score"
        ),
        CheckConstraint(
            "dept_score IS NULL OR (dept_score >= 0 AND dept_score <= weight)", name="dept_score"
        ),
        CheckConstraint(
            "final_score IS NULL OR (final_score >= 0 AND final_score <= weight)",
            name="final_score",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(50))
    position: Mapped[int]
    weight: Mapped[Decimal] = mapped_column(Score)
    applicable: Mapped[bool] = mapped_column(default=True)
    self_score: Mapped[Decimal | None] = mapped_column(Score)  # 自评得分
    dept_score: Mapped[Decimal | None] = mapped_column(Score)  # 主管部门审核得分
    dept_reason: Mapped[str | None] = mapped_column(Text)
    final_score: Mapped[Decimal | None] = mapped_column(Score)  # 财政确认得分
    final_reason: Mapped[str | None] = mapped_column(Text)

    evaluation: Mapped[Evaluation] = relationship(back_populates="rows")


class StoredFile:
    """The columns of an uploaded file kept under a generated name (evaluations/evidence.py
    ``store_file``): the evaluation's evidence and the answers to evidence requests."""

    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Evidence(StoredFile, db.Model):  # type: ignore[name-defined]
    """佐证材料: stored under a generated name, served only to those who may see the evaluation."""

    __tablename__ = "evidence"
    __table_args__ = (CheckConstraint("size >= 0", name="size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="RESTRICT"), index=True
    )

    evaluation: Mapped[Evaluation] = relationship(back_populates="evidence")
    uploaded_by: Mapped[User] = relationship()
