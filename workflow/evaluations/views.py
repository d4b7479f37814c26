"""View data for the workflow pages: lists in one query, deadlines, the paper-form layout.

Templates receive what these functions build and compute nothing themselves: no score, no
permission, no deadline arithmetic.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask import flash, render_template
from sqlalchemy import bindparam, false, func, or_, select, union_all

from scoring.engine import RowScore, Scorecard
from scoring.model import TIERS, Indicator, Scheme
from scoring.numbers import fmt
from workflow import operations, policy
from workflow.evaluations.forms import field_name
from workflow.extensions import db
from workflow.inputs import parse_int
from workflow.machine import STATE_LABELS, Role, State
from workflow.models import Actor, Cycle, Evaluation, EvaluationCount, Org, Project
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


class Deadline(NamedTuple):
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


_NO_DEADLINE = Deadline("", "", None, None)


def _deadline(stage: str | None, day: date | None, on: date) -> Deadline:
    if stage is None:
        return _NO_DEADLINE
    return Deadline(stage, STAGE_LABELS[stage], day, None if day is None else (day - on).days)


def deadline_for(
    state: str, deadlines: Mapping[str, date | None], on: date | None = None
) -> Deadline:
    stage = STATE_STAGE.get(state)
    return _deadline(stage, deadlines.get(stage) if stage else None, on or today())


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


class ListRow(NamedTuple):
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
    submitted_at: datetime | None  # shown with |local_time
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


class _Shape(NamedTuple):
    """Which filters a list applies; the statements depend on this, the values do not."""

    scope: str  # "all", "none", or the column that holds the user's organisation
    states: tuple[str, ...]  # in STATE_ORDER; empty: every state
    unit: bool
    cycle: bool
    q: bool


def _kept_counts(shape: _Shape) -> bool:
    """Whether the database's kept counts answer this shape: a department's or everybody's
    list by state and cycle (not a unit's, which counts a handful of entries, nor a search)."""
    return shape.scope in ("department_id", "all") and not shape.unit and not shape.q


@functools.lru_cache(maxsize=64)
def _list_statements(shape: _Shape) -> tuple[Any, tuple[Any, ...]]:
    """(group counts, the filter's conditions but the states) for one shape of filters,
    built once per process: building the statements cost more than running them. Plain
    Core on the tables, values as bind parameters, so that every later request only binds
    and runs them. The rows statement asks for one state per group and needs no state list
    (an expanding IN, rebuilt on every execution).

    The counts come as rows of (state, cycle, n, the cycle's three deadlines), except for a
    unit's list: one row per cycle with a count per state."""
    ev = Evaluation.__table__
    cy = Cycle.__table__
    pr = Project.__table__
    where: list[Any] = []
    if shape.scope == "none":
        where.append(false())
    elif shape.scope != "all":
        where.append(ev.c[shape.scope] == bindparam("scope_id"))
    state_filter = None
    if shape.states:
        state_filter = ev.c.state.in_(shape.states)
        where.append(state_filter)
    if shape.unit:
        where.append(ev.c.unit_id == bindparam("unit_id"))
    if shape.cycle:
        where.append(ev.c.cycle_id == bindparam("cycle_id"))
    if shape.q:
        pattern = bindparam("pattern")
        where.append(
            or_(
                ev.c.project_id.in_(select(pr.c.id).where(pr.c.name.like(pattern, escape="\\"))),
                ev.c.unit_id.in_(
                    select(Org.__table__.c.id).where(
                        Org.__table__.c.name.like(pattern, escape="\\")
                    )
                ),
            )
        )
    if _kept_counts(shape):
        # What the triggers keep (models/counts.py): a department's queue counted thousands
        # of index entries on every request, everybody's list all of them.
        ec = EvaluationCount.__table__
        kept: list[Any] = []
        if shape.scope == "department_id":
            kept.append(ec.c.department_id == bindparam("scope_id"))
        if shape.states:
            kept.append(
                ec.c.state.in_([bindparam(f"st{i}", s) for i, s in enumerate(shape.states)])
            )
        if shape.cycle:
            kept.append(ec.c.cycle_id == bindparam("cycle_id"))
        deadlines = (cy.c.deadline_submit, cy.c.deadline_review, cy.c.deadline_confirm)
        if shape.scope == "department_id":
            counts = select(ec.c.state, ec.c.cycle_id, ec.c.n, *deadlines).where(*kept, ec.c.n > 0)
        else:
            total = func.sum(ec.c.n)
            counts = (
                select(ec.c.state, ec.c.cycle_id, total, *deadlines)
                .where(*kept)
                .group_by(ec.c.state, ec.c.cycle_id, *deadlines)
                .having(total > 0)
            )
        counts = counts.join_from(ec, cy, cy.c.id == ec.c.cycle_id)
    elif shape.q:
        # A search: count the matches by (state, cycle) in one pass.
        groups = (
            select(ev.c.state, ev.c.cycle_id, func.count().label("n"))
            .where(*where)
            .group_by(ev.c.state, ev.c.cycle_id)
            .subquery("groups")
        )
        counts = select(
            groups.c.state,
            groups.c.cycle_id,
            groups.c.n,
            cy.c.deadline_submit,
            cy.c.deadline_review,
            cy.c.deadline_confirm,
        ).join_from(groups, cy, cy.c.id == groups.c.cycle_id)
    else:
        # One row per cycle with a count per state, each counted on its exact (scope, state,
        # cycle) range of the index: SQLite spent twice as long grouping the same entries.
        scoped = [w for w in where if w is not state_filter]
        per_state = [
            select(func.count())
            .select_from(ev)
            .where(*scoped, ev.c.state == state, ev.c.cycle_id == cy.c.id)
            .scalar_subquery()
            .label(f"n{i}")
            for i, state in enumerate(shape.states or STATE_ORDER)
        ]
        counts = select(
            cy.c.id, cy.c.deadline_submit, cy.c.deadline_review, cy.c.deadline_confirm, *per_state
        )
        if shape.cycle:
            counts = counts.where(cy.c.id == bindparam("cycle_id"))
    return counts, tuple(w for w in where if w is not state_filter)


@functools.lru_cache(maxsize=64)
def _rows_statement(shape: _Shape, groups: int) -> Any:
    """The page's rows when it touches ``groups`` (state, cycle) groups, in one statement.

    The page's ids come first, from the index alone, each group's in id order with its own
    limit and offset (a group can hold thousands of rows; joining them all before the LIMIT
    cost milliseconds); then the names of those rows only. Binds gs<i>, gc<i>, l<i>, o<i>."""
    ev = Evaluation.__table__
    cy = Cycle.__table__
    pr = Project.__table__
    unit = Org.__table__.alias("unit")
    dept = Org.__table__.alias("dept")
    where = _list_statements(shape)[1]
    parts = [
        select(ev.c.id)
        .where(
            *where,
            ev.c.state == bindparam(f"gs{i}"),
            ev.c.cycle_id == bindparam(f"gc{i}"),
        )
        .order_by(ev.c.id)
        .limit(bindparam(f"l{i}"))
        .offset(bindparam(f"o{i}"))
        for i in range(groups)
    ]
    if groups == 1:
        page_ids: Any = parts[0]
    else:
        # Members with their own LIMIT go inside subqueries (SQLite's compound selects).
        subqueries = [part.subquery(f"g{i}") for i, part in enumerate(parts)]
        page_ids = union_all(*(select(sq.c.id) for sq in subqueries))
    return (
        select(
            ev.c.id,
            ev.c.state,
            ev.c.cycle_id,
            ev.c.version,
            ev.c.self_total,
            ev.c.self_grade,
            ev.c.dept_total,
            ev.c.dept_grade,
            ev.c.final_total,
            ev.c.final_grade,
            ev.c.submitted_at,
            pr.c.name.label("project"),
            unit.c.name.label("unit"),
            dept.c.name.label("department"),
            cy.c.name.label("cycle"),
        )
        .join_from(ev, pr, pr.c.id == ev.c.project_id)
        .join(unit, unit.c.id == ev.c.unit_id)
        .join(dept, dept.c.id == ev.c.department_id)
        .join(cy, cy.c.id == ev.c.cycle_id)
        .where(ev.c.id.in_(page_ids))
    )


_STATE_RANK = {state: i for i, state in enumerate(STATE_ORDER)}


def list_evaluations(user: Actor, filters: ListFilters, per_page: int = PER_PAGE) -> Page:
    """The evaluations this user may see, filtered, in deadline order: the deadline of the
    stage each one waits on, then state, then cycle, then id.

    The deadline depends only on (state, cycle), so the matches fall into a few groups whose
    order is known from their keys. One statement gives the size of each group: the counts
    the database keeps for a department's or everybody's list (models/counts.py), else a
    count on the (scope, state, cycle) index, without reading an evaluation row. The groups
    are put in order here, and only the groups the page touches are read, each in id order
    straight from that index, with the names shown. Sorting every match in SQL cost more than the rest of the page
    together on a department of 10,000 evaluations.
    """
    scope, scope_id = policy.visible_scope(user)
    states = tuple(state for state in STATE_ORDER if state in filters.states)
    shape = _Shape(scope, states, bool(filters.unit_id), bool(filters.cycle_id), bool(filters.q))
    counts_stmt = _list_statements(shape)[0]
    params: dict[str, Any] = {
        "scope_id": scope_id,
        "unit_id": filters.unit_id,
        "cycle_id": filters.cycle_id,
        "pattern": _like(filters.q),
    }
    conn = db.session.connection()
    counts: list[tuple[str, int, int, date, date, date]] = []
    if shape.q or _kept_counts(shape):
        counts = [tuple(r) for r in conn.execute(counts_stmt, params)]  # type: ignore[misc]
    else:
        for cycle_id, submit, review, confirm, *per_state in conn.execute(counts_stmt, params):
            for state, n in zip(states or STATE_ORDER, per_state, strict=True):
                if n:
                    counts.append((state, cycle_id, n, submit, review, confirm))
    on = today()
    groups: list[tuple[bool, date, int, int, str, int, Deadline]] = []
    total = 0
    for state, cycle_id, n, submit, review, confirm in counts:
        total += n
        stage = STATE_STAGE.get(state)
        day = {"submit": submit, "review": review, "confirm": confirm}[stage] if stage else None
        rank = _STATE_RANK[state]
        groups.append(
            (day is None, day or date.max, rank, cycle_id, state, n, _deadline(stage, day, on))
        )
    groups.sort(key=lambda g: g[:4])
    # The groups this page touches, with the offset and number of rows taken from each.
    offset = (filters.page - 1) * per_page
    wanted = per_page
    touched: dict[tuple[str, int], tuple[int, Deadline]] = {}
    for _none, _day, _rank, cycle_id, state, size, deadline in groups:
        if offset >= size:
            offset -= size
            continue
        take = min(size - offset, wanted)
        i = len(touched)
        params.update({f"gs{i}": state, f"gc{i}": cycle_id, f"l{i}": take, f"o{i}": offset})
        touched[(state, cycle_id)] = (i, deadline)
        offset = 0
        wanted -= take
        if not wanted:
            break
    rows: list[ListRow] = []
    if not touched:
        return Page(rows, total, filters.page, per_page)
    found = conn.execute(_rows_statement(shape, len(touched)), params).all()
    # In page order: the groups in turn, each in id order.
    found.sort(key=lambda r: (touched[(r[1], r[2])][0], r[0]))
    for (
        id_,
        state,
        cycle_id,
        version,
        self_total,
        self_grade,
        dept_total,
        dept_grade,
        final_total,
        final_grade,
        submitted_at,
        project,
        unit,
        department,
        cycle,
    ) in found:
        if final_total is not None:
            total_now, grade_now = final_total, final_grade
        elif dept_total is not None:
            total_now, grade_now = dept_total, dept_grade
        else:
            total_now, grade_now = self_total, self_grade
        rows.append(
            ListRow(
                id_,
                project,
                unit,
                department,
                cycle,
                state,
                STATE_LABELS[state],
                version,
                total_now,
                grade_now,
                self_total,
                self_grade,
                dept_total,
                dept_grade,
                final_total,
                final_grade,
                submitted_at,
                touched[(state, cycle_id)][1],
            )
        )
    return Page(rows, total, filters.page, per_page)


@functools.lru_cache(maxsize=8)
def _units_statement(scope: str) -> Any:
    org = Org.__table__
    stmt = select(org.c.id, org.c.name).where(org.c.kind == "unit").order_by(org.c.name)
    if scope != "all":
        stmt = stmt.where(org.c[scope] == bindparam("org_id"))
    return stmt


def units_for(user: Actor) -> list[tuple[int, str]]:
    """The units a user may filter by: its own, its department's, or all of them."""
    role = Role(user.role)
    if role is Role.REVIEWER:
        scope = "parent_id"
    elif role in (Role.FINANCE, Role.ADMIN):
        scope = "all"
    else:
        scope = "id"
    rows = db.session.connection().execute(_units_statement(scope), {"org_id": user.org_id})
    return [(r.id, r.name) for r in rows]


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
    # This row's field errors (name -> message), and what names its scheme's content.
    errors: Mapping[str, str] = field(default_factory=dict)
    scheme_token: str = ""

    tiers = TIER_CHOICES

    @property
    def cache_key(self) -> tuple[Any, ...] | None:
        """Everything the printed row depends on (workflow/cells.py caches rows by it): the
        scheme's content and the indicator's code, the merged cells, what was entered, the
        computed result as shown, and the row's errors. None (print, do not keep) for a row
        with errors or long typed text: what a user typed must not fill every worker's
        memory."""
        if self.errors or any(
            isinstance(v, str) and len(v) > _KEY_TEXT_MAX for v in self.entry.values()
        ):
            return None
        r = self.result
        shown = None
        if r is not None:
            flags = tuple((f.code, f.message, f.blocking) for f in r.flags)
            shown = (self.score_text, r.explanation, flags, r.needs_reason, r.tier)
        return (
            self.scheme_token,
            self.code,
            self.l1,
            self.l2,
            self.l1_span,
            self.l2_span,
            _frozen(self.entry),
            shown,
        )

    @property
    def code(self) -> str:
        return self.indicator.code if self.indicator else ""

    def name(self, key: str) -> str:
        return field_name(self.code, key)

    @property
    def prefix(self) -> str:
        """The start of every field name of this row: prefix + "actual" == name("actual")."""
        return field_name(self.code, "")

    @property
    def weight_text(self) -> str:
        return fmt(self.indicator.weight) if self.indicator else ""

    @property
    def rule_summary(self) -> str:
        """The rule text's first 24 characters, for the collapsed cell."""
        text = self.indicator.rule_text if self.indicator else ""
        return text if len(text) <= 24 else text[:23] + "…"

    @property
    def points(self) -> list[tuple[str, str]]:
        """(point, the tier chosen for it) for a checklist's 评价要点."""
        ind = self.indicator
        if ind is None or ind.rule.kind != "checklist":
            return []
        return [(point, self.point(i)) for i, point in enumerate(ind.rule.points)]

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


def _frozen(value: Any) -> Any:
    """A hashable copy of entered values (dicts and lists as sorted tuples); each value keeps
    its type, since 1, 1.0 and True are equal but print differently."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return (value.__class__, value)


# Longer typed texts (a reason can run to pages) print without going into the row cache.
_KEY_TEXT_MAX = 500


def form_rows(
    scheme: Scheme,
    card: Scorecard | None,
    entries: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    scheme_token: str = "",
) -> list[FormRow]:
    """The indicator table with merged 一级 / 二级 cells (rowspans), as on the paper form.

    ``scheme_token`` names the scheme's content (its snapshot digest); rows printed through
    the row cache need it, and it must change whenever the scheme does."""
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
                    errors=_row_errors(errors, ind.code),
                    scheme_token=scheme_token,
                )
            )
    return rows


def _row_errors(errors: Mapping[str, str] | None, code: str) -> Mapping[str, str]:
    if not errors:
        return {}
    prefix = field_name(code, "")
    return {name: message for name, message in errors.items() if name.startswith(prefix)}


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
