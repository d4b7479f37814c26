"""What the targets pages read: lists scoped by the policy, the page's view model, the
version history, and the "adjusted" texts the self-evaluation shows."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from scoring.frameworks import (
    NATURE_SYMBOLS,
    NATURES,
    Framework,
    TargetProblem,
    TargetRow,
    target_text,
)
from scoring.numbers import fmt
from workflow import policy
from workflow.core.extensions import db
from workflow.machine import TARGET_STATE_LABELS, Role
from workflow.models import (
    Actor,
    Cycle,
    Evaluation,
    LibraryIndicator,
    Project,
    TargetSet,
    TargetVersion,
)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
NATURE_CHOICES: tuple[tuple[str, str], ...] = tuple((n, NATURE_SYMBOLS[n]) for n in NATURES)


def _local_date(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d")


# --- lists -----------------------------------------------------------------------------------


@dataclass
class ListRow:
    id: int
    project: str
    unit: str
    cycle: str
    state: str
    state_label: str
    in_force: int | None
    updated_at: datetime | None
    evaluation_id: int | None


def list_targets(user: Actor, states: Sequence[str] = ()) -> list[ListRow]:
    """The targets this user may see, one statement (no per-row queries)."""
    column, value = policy.visible_scope(user)
    if column == "none":
        return []
    t = TargetSet.__table__
    p = Project.__table__
    c = Cycle.__table__
    v = TargetVersion.__table__
    e = Evaluation.__table__
    from workflow.models import Org

    o = Org.__table__
    query = (
        select(
            t.c.id,
            p.c.name,
            o.c.name.label("unit"),
            c.c.name.label("cycle"),
            t.c.state,
            t.c.pending_kind,
            v.c.number,
            t.c.updated_at,
            e.c.id.label("evaluation_id"),
        )
        .join(p, p.c.id == t.c.project_id)
        .join(o, o.c.id == t.c.unit_id)
        .join(c, c.c.id == t.c.cycle_id)
        .outerjoin(v, v.c.id == t.c.current_version_id)
        .outerjoin(e, (e.c.project_id == t.c.project_id) & (e.c.cycle_id == t.c.cycle_id))
        .order_by(c.c.year.desc(), t.c.updated_at.desc(), t.c.id.desc())
        .limit(500)
    )
    if column != "all":
        query = query.where(t.c[column] == value)
    if states:
        query = query.where(t.c.state.in_(list(states)))
    rows: list[ListRow] = []
    from workflow.machine import TargetState

    for r in db.session.execute(query):
        label = TARGET_STATE_LABELS[TargetState(r.state)]
        if r.pending_kind == "adjustment" and r.state != TargetState.APPROVED.value:
            label = f"调整{label}"
        rows.append(
            ListRow(
                r.id,
                r.name,
                r.unit,
                r.cycle,
                r.state,
                label,
                r.number,
                r.updated_at,
                r.evaluation_id,
            )
        )
    return rows


def projects_without_targets(user: Actor) -> list[tuple[Project, Cycle]]:
    """A unit's projects that have no targets in an active cycle yet (to start them)."""
    if Role(user.role) not in (Role.UNIT_STAFF, Role.UNIT_HEAD):
        return []
    cycles = db.session.scalars(
        select(Cycle).where(Cycle.active.is_(True), Cycle.framework_id.is_not(None))
    ).all()
    projects = db.session.scalars(select(Project).where(Project.unit_id == user.org_id)).all()
    have = {
        (pid, cid)
        for pid, cid in db.session.execute(
            select(TargetSet.project_id, TargetSet.cycle_id).where(TargetSet.unit_id == user.org_id)
        )
    }
    return [(p, c) for c in cycles for p in projects if (p.id, c.id) not in have]


# --- the page's view model -------------------------------------------------------------------


@dataclass
class RowView:
    index: int  # 1-based, as the messages name it
    level1: str
    level2: str
    name: str
    nature: str
    value: str
    unit: str
    weight: str
    code: str = ""
    library_id: str = ""
    source: str = ""
    target_text: str = ""
    problems: list[str] = field(default_factory=list)
    # For an adjustment: the value in force, when this row changes it.
    was: str = ""


@dataclass
class LevelChoice:
    name: str
    weight: str
    level2: tuple[str, ...]


@dataclass
class TargetsPage:
    targets: TargetSet
    framework: Framework
    rows: list[RowView]
    general_problems: list[str]
    levels: list[LevelChoice]
    shared_levels: list[str]
    library: list[tuple[str, list[LibraryIndicator]]]
    editable: bool
    adjusting: bool
    events: list[Any]
    in_force: TargetVersion | None
    totals: list[tuple[str, str, str]]  # level, sum typed, weight required


def framework_levels(framework: Framework) -> list[LevelChoice]:
    return [
        LevelChoice(level.name, str(level.weight), level.level2_names())
        for level in framework.project_levels()
    ]


def library_groups(framework: Framework) -> list[tuple[str, list[LibraryIndicator]]]:
    """Active library entries by 一级／二级 that this framework allows (an optgroup each)."""
    allowed = {
        (level.name, name) for level in framework.project_levels() for name in level.level2_names()
    }
    groups: OrderedDict[str, list[LibraryIndicator]] = OrderedDict()
    for item in db.session.scalars(
        select(LibraryIndicator)
        .where(LibraryIndicator.active.is_(True))
        .order_by(LibraryIndicator.level1, LibraryIndicator.level2, LibraryIndicator.id)
    ):
        if (item.level1, item.level2) in allowed:
            groups.setdefault(f"{item.level1}／{item.level2}", []).append(item)
    return list(groups.items())


def targets_page(
    user: Actor,
    targets: TargetSet,
    framework: Framework,
    problems: Sequence[TargetProblem],
    *,
    adjusting: bool = False,
) -> TargetsPage:
    from workflow.targets.operations import working_rows

    raw_rows = working_rows(targets)
    by_row: dict[int, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        if problem.row is None:
            general.append(problem.message)
        else:
            by_row.setdefault(problem.row, []).append(problem.message)
    in_force = targets.current_version
    was: dict[str, str] = {}
    if in_force is not None and adjusting:
        for row in in_force.targets().rows:
            was[row.code] = target_text(row)
    rows: list[RowView] = []
    for index, raw in enumerate(raw_rows, start=1):
        parsed = TargetRow.from_dict(raw)
        text = target_text(parsed)
        old = was.get(str(raw.get("code", "")), "")
        rows.append(
            RowView(
                index=index,
                level1=str(raw.get("level1", "")),
                level2=str(raw.get("level2", "")),
                name=str(raw.get("name", "")),
                nature=str(raw.get("nature", "")),
                value=str(raw.get("value", "")),
                unit=str(raw.get("unit", "")),
                weight=str(raw.get("weight", "")),
                code=str(raw.get("code", "")),
                library_id=str(raw.get("library_id", "") or ""),
                source=str(raw.get("source", "")),
                target_text=text,
                problems=by_row.get(index, []),
                was=old if old and old != text else "",
            )
        )
    totals: list[tuple[str, str, str]] = []
    for level in framework.project_levels():
        total = sum(
            (TargetRow.from_dict(r).weight for r in raw_rows if r.get("level1") == level.name),
            start=TargetRow.from_dict({}).weight,
        )
        totals.append((level.name, fmt(total), fmt(level.weight)))
    action = policy.TARGETS_ADJUST_EDIT if adjusting else policy.TARGETS_EDIT
    return TargetsPage(
        targets=targets,
        framework=framework,
        rows=rows,
        general_problems=general,
        levels=framework_levels(framework),
        shared_levels=[f"{lv.name}（{lv.weight}分）" for lv in framework.levels if lv.shared],
        library=library_groups(framework),
        editable=policy.can_targets(user, action, targets),
        adjusting=adjusting,
        events=policy.available_target_events(user, targets),
        in_force=in_force,
        totals=totals,
    )


# --- history ---------------------------------------------------------------------------------


@dataclass
class VersionView:
    number: int
    kind: str
    reason: str
    created_by: str
    created_at: datetime | None
    approved_by: str
    approved_at: datetime | None
    in_force: bool
    rows: list[tuple[str, str, str, str, str]]  # 一级, 二级, 三级, 指标值, 分值
    changes: list[str]


def history(targets: TargetSet) -> list[VersionView]:
    versions = db.session.scalars(
        select(TargetVersion)
        .where(TargetVersion.targets_id == targets.id)
        .options(joinedload(TargetVersion.created_by), joinedload(TargetVersion.approved_by))
        .order_by(TargetVersion.number.desc())
    ).all()
    by_id = {v.id: v for v in versions}
    views: list[VersionView] = []
    for version in versions:
        parsed = version.targets()
        changes: list[str] = []
        previous = by_id.get(version.previous_id) if version.previous_id else None
        if previous is not None:
            before = {row.code: row for row in previous.targets().rows}
            for row in parsed.rows:
                old = before.pop(row.code, None)
                if old is None:
                    changes.append(f"新增：{row.name} {target_text(row)}")
                elif target_text(old) != target_text(row) or old.name != row.name:
                    changes.append(f"{row.name}：{target_text(old)} → {target_text(row)}")
            changes.extend(f"删除：{row.name}" for row in before.values())
        views.append(
            VersionView(
                number=version.number,
                kind="调整" if version.kind == "adjustment" else "初次申报",
                reason=version.reason,
                created_by=version.created_by.name if version.created_by else "系统",
                created_at=version.created_at,
                approved_by=version.approved_by.name if version.approved_by else "",
                approved_at=version.approved_at,
                in_force=version.id == targets.current_version_id,
                rows=[
                    (r.level1, r.level2, r.name, target_text(r), str(r.weight)) for r in parsed.rows
                ],
                changes=changes,
            )
        )
    return views


# --- what the self-evaluation shows of an adjustment -----------------------------------------

_LOCK = threading.Lock()
_NOTES: OrderedDict[tuple[str, int, int, str], Mapping[str, str]] = OrderedDict()


def target_texts(version: TargetVersion | None) -> Mapping[str, str]:
    """The 年度指标值 of each adjusted indicator as the form and the PDF print it:
    "≥95%（2022-06-30 调整，原 ≥98%）". Empty for a version that adjusted nothing.

    Both versions are immutable, so the texts are kept per process by their digests: the
    form page reads the previous version once, not per request.
    """
    if version is None or version.kind != "adjustment" or version.previous_id is None:
        return {}
    day = _local_date(version.approved_at)
    # Keyed without reading the previous version: a warm form page costs no query for it.
    key = (version.digest, version.id, version.previous_id, day)
    with _LOCK:
        found = _NOTES.get(key)
    if found is not None:
        return found
    previous = version.previous
    if previous is None:
        return {}
    before = {row.code: target_text(row) for row in previous.targets().rows}
    notes: dict[str, str] = {}
    for row in version.targets().rows:
        old = before.get(row.code)
        now = target_text(row)
        if old is not None and old != now:
            notes[row.code] = (
                f"{now}（{day} 调整，原 {old}）" if day else f"{now}（调整，原 {old}）"
            )
    with _LOCK:
        _NOTES[key] = notes
        while len(_NOTES) > 1024:
            _NOTES.popitem(last=False)
    return notes


def evaluation_target_texts(evaluation: Evaluation) -> Mapping[str, str]:
    return target_texts(evaluation.target_version)
