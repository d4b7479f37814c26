"""Frameworks (评价框架), a project's performance targets (绩效目标) with their versions, and
the indicator library (指标库).

A cycle's framework is shared by content, like a scheme snapshot: one row however many
evaluations use it. A project's targets are one ``project_targets`` row per (project, cycle)
holding the working copy the unit edits, and immutable ``target_versions``: each submission
is a version, the department's approval puts one in force. An evaluation references its
framework and the version in force when it was created; the scheme the engine scores is
compiled from the two once per process (see :func:`compiled_scheme`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scoring.frameworks import Framework, ProjectTargets, compile_scheme
from workflow.core.extensions import db
from workflow.machine import TARGET_STATE_LABELS, TargetState
from workflow.models.digest import snapshot_digest
from workflow.models.org import Org
from workflow.models.user import User, utcnow

__all__ = [
    "FrameworkRecord",
    "LibraryIndicator",
    "TargetSet",
    "TargetVersion",
    "compiled_scheme",
    "framework_record_for",
]


class FrameworkRecord(db.Model):  # type: ignore[name-defined]
    """A framework exactly as a cycle uses it (``Framework.to_dict()``); immutable, shared by
    content (the digest)."""

    __tablename__ = "frameworks"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def framework(self) -> Framework:
        return parsed_framework(self)


def framework_record_for(content: dict[str, Any]) -> FrameworkRecord:
    """The stored framework with this content, created when it is new (no commit)."""
    digest = snapshot_digest(content)
    found = db.session.scalar(select(FrameworkRecord).where(FrameworkRecord.digest == digest))
    if found is not None:
        return found
    record = FrameworkRecord(
        digest=digest,
        name=str(content.get("name", "")),
        version=str(content.get("version", "")),
        content=content,
    )
    db.session.add(record)
    return record


class TargetSet(db.Model):  # type: ignore[name-defined]
    """A project's 绩效目标 for one cycle: the working copy, its state, the version in force.

    ``draft`` is what the unit typed, kept even when invalid (rows as ``TargetRow.to_dict``
    plus the raw weight text); ``current_version`` is the approved version in force (None
    until the first approval). An adjustment is worked on while the approved version stays
    in force; ``pending_kind`` says whether the work under way is the initial targets or an
    adjustment, ``pending_reason`` the adjustment's reason.
    """

    __tablename__ = "project_targets"
    __table_args__ = (
        UniqueConstraint("project_id", "cycle_id", name="uq_project_targets_project_cycle"),
        CheckConstraint("state IN ('draft', 'submitted', 'approved', 'returned')", name="state"),
        CheckConstraint("pending_kind IN ('initial', 'adjustment')", name="pending_kind"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_project_targets_department_state", "department_id", "state"),
        Index("ix_project_targets_unit_state", "unit_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"), index=True)
    # Denormalised from the project, as on evaluations: scoped queues are one indexed filter.
    unit_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(20), default=TargetState.DRAFT.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    pending_kind: Mapped[str] = mapped_column(String(20), default="initial")
    pending_reason: Mapped[str] = mapped_column(Text, default="")
    return_reason: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[str] = mapped_column(Text, default="")
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("target_versions.id", ondelete="RESTRICT", use_alter=True)
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    project: Mapped[Any] = relationship("Project")
    cycle: Mapped[Any] = relationship("Cycle")
    unit: Mapped[Org] = relationship(foreign_keys=[unit_id])
    department: Mapped[Org] = relationship(foreign_keys=[department_id])
    current_version: Mapped[TargetVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    versions: Mapped[list[TargetVersion]] = relationship(
        back_populates="target_set",
        foreign_keys="TargetVersion.targets_id",
        order_by="TargetVersion.number",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def state_enum(self) -> TargetState:
        return TargetState(self.state)

    @property
    def state_label(self) -> str:
        label = TARGET_STATE_LABELS[TargetState(self.state)]
        if self.pending_kind == "adjustment" and self.state != TargetState.APPROVED.value:
            return f"调整{label}"
        return label

    def __repr__(self) -> str:
        return f"<TargetSet {self.id} {self.state} v{self.version}>"


class TargetVersion(db.Model):  # type: ignore[name-defined]
    """One submitted set of targets, never changed afterwards (but for its approval stamp)."""

    __tablename__ = "target_versions"
    __table_args__ = (
        UniqueConstraint("targets_id", "number", name="uq_target_versions_number"),
        CheckConstraint("kind IN ('initial', 'adjustment')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    targets_id: Mapped[int] = mapped_column(
        ForeignKey("project_targets.id", ondelete="RESTRICT"), index=True
    )
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20), default="initial")
    reason: Mapped[str] = mapped_column(Text, default="")
    # The version in force when this one was submitted (what an adjustment changes).
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("target_versions.id", ondelete="RESTRICT")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(200), default="")
    # Of the rows' content: with the framework's digest it names a compiled scheme in every
    # process and every database (ids repeat across databases; contents do not lie).
    digest: Mapped[str] = mapped_column(String(64))
    # ProjectTargets.to_dict(): the goal and the rows. Deferred: a page whose scheme is
    # already compiled in this process never loads them.
    rows: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)

    target_set: Mapped[TargetSet] = relationship(
        back_populates="versions", foreign_keys=[targets_id]
    )
    previous: Mapped[TargetVersion | None] = relationship(remote_side=[id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    def targets(self) -> ProjectTargets:
        return ProjectTargets.from_dict(self.rows)


class LibraryIndicator(db.Model):  # type: ignore[name-defined]
    """An entry of the indicator library (指标库) units pick their targets from."""

    __tablename__ = "indicator_library"
    __table_args__ = (
        UniqueConstraint("level1", "level2", "name", name="uq_indicator_library_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level1: Mapped[str] = mapped_column(String(50))
    level2: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    nature: Mapped[str] = mapped_column(String(10))
    unit: Mapped[str] = mapped_column(String(20), default="")
    default_value: Mapped[str] = mapped_column(String(100), default="")
    method: Mapped[str] = mapped_column(Text, default="")  # 计算方法 / 评分说明
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- the compiled schemes, per process -------------------------------------------------------

_LOCK = threading.Lock()
_FRAMEWORKS: OrderedDict[str, Framework] = OrderedDict()
_COMPILED: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_LIMIT = 256


def parsed_framework(record: FrameworkRecord) -> Framework:
    with _LOCK:
        found = _FRAMEWORKS.get(record.digest)
    if found is None:
        found = Framework.from_dict(record.content)
        with _LOCK:
            _FRAMEWORKS[record.digest] = found
            while len(_FRAMEWORKS) > _LIMIT:
                _FRAMEWORKS.popitem(last=False)
    return found


def compiled_scheme(framework: FrameworkRecord, version: TargetVersion) -> dict[str, Any]:
    """The scheme of (framework, target version), compiled once per process.

    Both are immutable, so the pair of digests names the scheme for good; a page, the scorer, the PDF
    and the export all read it from here instead of a copy stored with every evaluation.
    """
    key = (framework.digest, version.digest)
    with _LOCK:
        found = _COMPILED.get(key)
        if found is not None:
            _COMPILED.move_to_end(key)
            return found
    scheme = compile_scheme(parsed_framework(framework), ProjectTargets.from_dict(version.rows))
    with _LOCK:
        _COMPILED[key] = scheme
        while len(_COMPILED) > 4096:
            _COMPILED.popitem(last=False)
    return scheme
