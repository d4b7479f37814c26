"""View data for the workflow pages: lists in one query, deadlines, the paper-form layout.

Templates receive what these functions build and compute nothing themselves: no score, no
permission, no deadline arithmetic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, render_template
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased

from scoring.engine import RowScore, Scorecard
from scoring.model import TIERS, Indicator, Scheme
from scoring.numbers import fmt
from workflow import operations, policy
from workflow.evaluations.forms import field_name
from workflow.extensions import db
from workflow.inputs import parse_int
from workflow.machine import STATE_LABELS, Role, State
from workflow.models import Cycle, Evaluation, Org, Project, User
from workflow.operations import OperationError

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PER_PAGE = 50
TIER_CHOICES = tuple(TIERS)
# The label a unit would print for each tier in the 实际完成值 column.
TIER_LABELS = ("达成预期目标", "部分达成并具有一定效果", "未达成预期目标且效果较差")

# The stage (and so the deadline) an evaluation in each state is waiting on.
STATE_STAGE = {
    State.DRAFT.value: "submit",
    State.SELF_SCORED.value: "review",
    State.DEPT_REVIEW.value: "review",
    State.FINANCE_CONFIRMATION.value: "confirm",
}
STAGE_LABELS = {"submit": "单位填报", "review": "主管部门审核", "confirm": "财政确认"}
STATE_ORDER = [s.value for s in State]


def today() -> date:
    return datetime.now(LOCAL_TZ).date()


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def money(value: Decimal | None) -> str:
    return "" if value is None else fmt(value)


# --- schemes ---------------------------------------------------------------------------------


# The frozen scheme and live scorecard come from the operations module (one parse per
# distinct snapshot, shared with the workflow's own scoring).
scheme_for = operations.scheme_of
scorecard = operations.scorecard


# --- deadlines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    stage: str
    label: str
    day: date | None
    days_left: int | None

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def text(self) -> str:
        if self.days_left is None:
            return ""
        if self.days_left < 0:
            return f"已逾期 {-self.days_left} 天"
        if self.days_left == 0:
            return "今天截止"
        return f"剩 {self.days_left} 天"


def deadline_for(
    state: str, deadlines: Mapping[str, date | None], on: date | None = None
) -> Deadline:
    stage = STATE_STAGE.get(state)
    if stage is None:
        return Deadline("", "", None, None)
    day = deadlines.get(stage)
    left = None if day is None else (day - (on or today())).days
    return Deadline(stage, STAGE_LABELS[stage], day, left)


def cycle_deadlines(cycle: Cycle, on: date | None = None) -> list[Deadline]:
    on = on or today()
    return [
        Deadline(
            stage,
            STAGE_LABELS[stage],
            cycle.deadline_for(stage),
            (cycle.deadline_for(stage) - on).days,
        )
        for stage in ("submit", "review", "confirm")
    ]


# --- lists: one query with joins, the page's rows and the total count together ---------------


@dataclass
class ListFilters:
    states: list[str] = field(default_factory=list)
    unit_id: int | None = None
    cycle_id: int | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, Any], default_states: Sequence[str] = ()) -> ListFilters:
        # No "state" at all: the page's default; "state=" (empty): every state.
        if "state" in args:
            getlist = getattr(args, "getlist", None)
            raw = getlist("state") if getlist else [args["state"]]
            states = [s for s in raw if s in STATE_ORDER]
        else:
            states = list(default_states)
        unit = str(args.get("unit", "") or "")
        cycle = str(args.get("cycle", "") or "")
        page = str(args.get("page", "") or "")
        return cls(
            states=states,
            unit_id=parse_int(unit),
            cycle_id=parse_int(cycle),
            q=str(args.get("q", "") or "").strip()[:100],
            page=max(1, min(parse_int(page) or 1, 100000)),
        )

    def query_args(self, **override: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "state": self.states or [""],
            "unit": self.unit_id or "",
            "cycle": self.cycle_id or "",
            "q": self.q,
            "page": self.page,
        }
        args.update(override)
        return {k: v for k, v in args.items() if v not in ("", None, [])}


@dataclass(frozen=True)
class ListRow:
    id: int
    project: str
    unit: str
    department: str
    cycle: str
    state: str
    state_label: str
    version: int
    total: Decimal | None
    grade: str | None
    self_total: Decimal | None
    self_grade: str | None
    dept_total: Decimal | None
    dept_grade: str | None
    final_total: Decimal | None
    final_grade: str | None
    submitted_at: str
    deadline: Deadline


@dataclass
class Page:
    rows: list[ListRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, (self.total + self.per_page - 1) // self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@functools.cache
def _list_statements() -> Any:
    """The statement that reads the rows shown, built once per process (building it took
    longer than running it)."""
    unit = aliased(Org)
    dept = aliased(Org)
    return (
        select(
            Evaluation.id,
            Evaluation.state,
            Evaluation.version,
            Evaluation.self_total,
            Evaluation.self_grade,
            Evaluation.dept_total,
            Evaluation.dept_grade,
            Evaluation.final_total,
            Evaluation.final_grade,
            Evaluation.submitted_at,
            Project.name.label("project"),
            unit.name.label("unit"),
            dept.name.label("department"),
            Cycle.name.label("cycle"),
            Cycle.deadline_submit,
            Cycle.deadline_review,
            Cycle.deadline_confirm,
        )
        .join(Project, Project.id == Evaluation.project_id)
        .join(unit, unit.id == Evaluation.unit_id)
        .join(dept, dept.id == Evaluation.department_id)
        .join(Cycle, Cycle.id == Evaluation.cycle_id)
        .where(Evaluation.id.in_(bindparam("ids", expanding=True)))
    )


def _page_ids(conditions: list[Any], offset: int, limit: int) -> tuple[list[int], int]:
    """One page of ids in list order (by the deadline of each one's stage, then state, then
    id), and the number of matches.

    The deadline depends only on (state, cycle), so the matches fall into a few groups whose
    order is known from their keys: the groups are counted from the index, put in order
    here, and only the groups the page touches are read, each in id order straight from the
    (scope, state, cycle) index. Sorting every match in SQL cost more than the rest of the
    page together on a large department.
    """
    counts = db.session.execute(
        select(Evaluation.state, Evaluation.cycle_id, func.count())
        .where(*conditions)
        .group_by(Evaluation.state, Evaluation.cycle_id)
    ).all()
    total = sum(int(n) for _state, _cycle, n in counts)
    if not counts:
        return [], 0
    cycle_ids = {cycle_id for _state, cycle_id, _n in counts}
    deadlines = {
        c.id: {
            "submit": c.deadline_submit,
            "review": c.deadline_review,
            "confirm": c.deadline_confirm,
        }
        for c in db.session.execute(
            select(
                Cycle.id, Cycle.deadline_submit, Cycle.deadline_review, Cycle.deadline_confirm
            ).where(Cycle.id.in_(cycle_ids))
        )
    }
    rank = {state: i for i, state in enumerate(STATE_ORDER)}
    merged: dict[tuple[bool, date, int], list[tuple[str, int, int]]] = {}
    for state, cycle_id, n in counts:
        stage = STATE_STAGE.get(state)
        day = deadlines[cycle_id][stage] if stage else None
        key = (day is None, day or date.max, rank[state])
        merged.setdefault(key, []).append((state, cycle_id, int(n)))
    ids: list[int] = []
    for key in sorted(merged):
        group = merged[key]
        size = sum(n for _s, _c, n in group)
        if offset >= size:
            offset -= size
            continue
        pairs = [and_(Evaluation.state == s, Evaluation.cycle_id == c) for s, c, _n in group]
        ids.extend(
            db.session.scalars(
                select(Evaluation.id)
                .where(*conditions, or_(*pairs))
                .order_by(Evaluation.id)
                .offset(offset)
                .limit(limit - len(ids))
            )
        )
        offset = 0
        if len(ids) >= limit:
            break
    return ids, total


def list_evaluations(
    user: User, filters: ListFilters, per_page: int = PER_PAGE, extra: Iterable[Any] = ()
) -> Page:
    """The evaluations this user may see, filtered, by deadline.

    Three short statements rather than one wide one: the count and the page of ids come
    from the (scope, state, cycle) indexes without reading a single evaluation row, and only
    the 50 rows shown are then read with their names. One statement with a window count
    read every matching row (10,000 for a large department) on every page view.
    """
    conditions: list[Any] = [policy.visible_filter(user), *extra]
    if filters.states:
        conditions.append(Evaluation.state.in_(filters.states))
    if filters.unit_id:
        conditions.append(Evaluation.unit_id == filters.unit_id)
    if filters.cycle_id:
        conditions.append(Evaluation.cycle_id == filters.cycle_id)
    if filters.q:
        pattern = _like(filters.q)
        unit_names = select(Org.id).where(Org.name.like(pattern, escape="\\"))
        project_ids = select(Project.id).where(Project.name.like(pattern, escape="\\"))
        conditions.append(
            or_(Evaluation.project_id.in_(project_ids), Evaluation.unit_id.in_(unit_names))
        )
    ids, total = _page_ids(conditions, (filters.page - 1) * per_page, per_page)
    details_stmt = _list_statements()
    details = {r.id: r for r in db.session.execute(details_stmt, {"ids": ids})} if ids else {}
    on = today()
    rows: list[ListRow] = []
    for r in (details[i] for i in ids if i in details):
        deadlines = {
            "submit": r.deadline_submit,
            "review": r.deadline_review,
            "confirm": r.deadline_confirm,
        }
        if r.final_total is not None:
            current = (r.final_total, r.final_grade)
        elif r.dept_total is not None:
            current = (r.dept_total, r.dept_grade)
        else:
            current = (r.self_total, r.self_grade)
        rows.append(
            ListRow(
                id=r.id,
                project=r.project,
                unit=r.unit,
                department=r.department,
                cycle=r.cycle,
                state=r.state,
                state_label=STATE_LABELS[State(r.state)],
                version=r.version,
                total=current[0],
                grade=current[1],
                self_total=r.self_total,
                self_grade=r.self_grade,
                dept_total=r.dept_total,
                dept_grade=r.dept_grade,
                final_total=r.final_total,
                final_grade=r.final_grade,
                submitted_at=local_time(r.submitted_at),
                deadline=deadline_for(r.state, deadlines, on),
            )
        )
    return Page(rows, total, filters.page, per_page)


def units_for(user: User) -> list[tuple[int, str]]:
    """The units a user may filter by: its own, its department's, or all of them."""
    stmt = select(Org.id, Org.name).where(Org.kind == "unit").order_by(Org.name)
    role = Role(user.role)
    if role is Role.REVIEWER:
        stmt = stmt.where(Org.parent_id == user.org_id)
    elif role not in (Role.FINANCE, Role.ADMIN):
        stmt = stmt.where(Org.id == user.org_id)
    return [(r.id, r.name) for r in db.session.execute(stmt)]


def cycles() -> list[Cycle]:
    return list(db.session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id.desc())))


# --- the paper form --------------------------------------------------------------------------


@dataclass
class FormRow:
    """One printed line of the indicator table (a leaf, or an empty 二级 heading)."""

    l1: str
    l2: str
    l1_span: int  # 0: the cell is merged into the one above
    l2_span: int
    indicator: Indicator | None = None
    result: RowScore | None = None
    entry: Mapping[str, Any] = field(default_factory=dict)
    group_weight: str = ""

    @property
    def code(self) -> str:
        return self.indicator.code if self.indicator else ""

    def name(self, key: str) -> str:
        return field_name(self.code, key)

    def value(self, key: str) -> str:
        value = self.entry.get(key)
        return "" if value is None else str(value)

    def point(self, index: int) -> str:
        points = self.entry.get("points") or []
        if index < len(points) and points[index]:
            return str(points[index])
        # A form imported with one label for the whole item shows it on every point.
        return self.tier_value

    @property
    def tier_value(self) -> str:
        raw = self.value("tier")
        if raw in TIERS:
            return raw
        if self.result is not None and self.result.tier in TIERS:
            return str(self.result.tier)
        return ""

    @property
    def shows_tier(self) -> bool:
        ind = self.indicator
        if ind is None:
            return False
        return ind.rule.kind == "tier" or (
            ind.rule.kind in ("forward", "reverse", "equal", "satisfaction")
            and not ind.target.numeric
        )

    @property
    def shows_actual(self) -> bool:
        return self.indicator is not None and self.indicator.rule.kind != "checklist"

    @property
    def shows_amounts(self) -> bool:
        return self.indicator is not None and self.indicator.rule.kind in ("ratio", "budget")

    @property
    def needs_reason(self) -> bool:
        return bool(self.result and self.result.needs_reason)

    @property
    def show_reason(self) -> bool:
        return self.needs_reason or bool(self.value("reason"))

    @property
    def na(self) -> bool:
        return bool(self.entry.get("na"))

    @property
    def score_text(self) -> str:
        if self.result is None:
            return ""
        if not self.result.applicable:
            return "不适用"
        if self.result.score is None:
            return "—"
        return f"{self.result.score:.2f}"

    @property
    def flags(self) -> list[Any]:
        return list(self.result.flags) if self.result else []

    def amount_label(self, which: str) -> str:
        ind = self.indicator
        assert ind is not None
        budget = ind.rule.kind == "budget"
        if which == "numerator":
            return ind.rule.numerator_label or ("全年执行数" if budget else "实际支出")
        return ind.rule.denominator_label or ("全年预算数" if budget else "实际到位")


def form_rows(scheme: Scheme, card: Scorecard | None, entries: Mapping[str, Any]) -> list[FormRow]:
    """The indicator table with merged 一级 / 二级 cells (rowspans), as on the paper form."""
    results = {r.code: r for r in card.rows} if card else {}
    leaves: dict[tuple[str, str], list[Indicator]] = {}
    order: list[tuple[str, str]] = []
    for ind in scheme.indicators:
        key = (ind.path[0], ind.path[1])
        if key not in leaves:
            leaves[key] = []
            order.append(key)
        leaves[key].append(ind)
    # Empty 二级 headings (the seed's blank 生态效益 / 可持续影响) keep their place.
    if scheme.groups:
        ordered: list[tuple[str, str]] = []
        for g in scheme.groups:
            if len(g.path) == 2:
                key = (g.path[0], g.path[1])
                ordered.append(key)
                leaves.setdefault(key, [])
        ordered += [k for k in order if k not in ordered]
        order = ordered
    group_weights = {g.path: g.weight for g in scheme.groups}
    rows: list[FormRow] = []
    l1_counts: dict[str, int] = {}
    for key in order:
        l1_counts[key[0]] = l1_counts.get(key[0], 0) + max(1, len(leaves[key]))
    seen_l1: set[str] = set()
    for key in order:
        items = leaves[key]
        l1_span = 0
        if key[0] not in seen_l1:
            seen_l1.add(key[0])
            l1_span = l1_counts[key[0]]
        weight = group_weights.get((key[0],))
        l1_label = key[0] + (f"（{fmt(weight)}分）" if weight is not None else "")
        if not items:
            rows.append(FormRow(l1_label, key[1], l1_span, 1))
            continue
        for i, ind in enumerate(items):
            rows.append(
                FormRow(
                    l1_label,
                    key[1],
                    l1_span if i == 0 else 0,
                    len(items) if i == 0 else 0,
                    indicator=ind,
                    result=results.get(ind.code),
                    entry=entries.get(ind.code) or {},
                )
            )
    return rows


def summary_flags(scheme: Scheme, card: Scorecard) -> tuple[list[str], list[str]]:
    """(blocking problems, notes) with the indicator's name in front."""
    names = {ind.code: ind.path[2] or ind.path[1] for ind in scheme.indicators}
    blocking: list[str] = []
    notes: list[str] = []
    for f in card.flags:
        text = f"{names[f.indicator]}：{f.message}" if f.indicator in names else f.message
        (blocking if f.blocking else notes).append(text)
    return blocking, notes


# --- errors ----------------------------------------------------------------------------------


def error_page(exc: OperationError) -> tuple[str, int]:
    """An operation's refusal as a page with its status (404 looks like any missing page)."""
    from workflow.security import ERROR_TITLES

    message = "您要找的页面不存在，或您无权查看。" if exc.status == 404 else exc.message
    return (
        render_template(
            "error.html",
            code=exc.status,
            title=ERROR_TITLES.get(exc.status, "出错了"),
            message=message,
            details=exc.details,
        ),
        exc.status,
    )


def flash_error(exc: OperationError) -> None:
    flash(exc.message + ("：" + "；".join(exc.details) if exc.details else ""), "danger")
