"""What the evaluation pages read: the lists (one query, kept counts), their filters and
pages, the units and cycles offered as filters, and the parsed scheme of an evaluation."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from flask import current_app, g
from sqlalchemy import ColumnElement, bindparam, false, func, or_, select, true, union_all

from workflow import policy
from workflow.core.database import reads_committed
from workflow.core.extensions import db
from workflow.core.inputs import parse_int
from workflow.evaluations import seal, views
from workflow.evaluations.views import PER_PAGE, STATE_ORDER, STATE_STAGE, Deadline, _deadline
from workflow.machine import STATE_LABELS, Role, State
from workflow.models import Actor, Cycle, Evaluation, EvaluationCount, Org, OrgGeneration, Project


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
    returned: bool = False  # sent back (退回) and not moved forward since
    # A confirmed grade that differs from what its SM2 seal signed (seal.tampered_among).
    tampered: bool = False


@dataclass(frozen=True, eq=False)
class RowColumns:
    """Columns another feature adds to a list's rows statement (the queues' risk badges):
    from ``table``, outer-joined on ``table.c[key] == evaluations.id``. Their values come
    back in Page.extra by evaluation id, in order: the page asks nothing more of the
    database for them. One instance per kind (it keys the statement cache)."""

    table: Any
    key: str
    columns: tuple[Any, ...]


@dataclass
class Page:
    rows: list[ListRow]
    total: int
    page: int
    per_page: int
    extra: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    extra_columns: RowColumns | None = None  # what extra holds

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
        # Each cycle counts its days its own way (calendar or working days): the kind comes
        # with the deadlines rather than in a statement of its own.
        deadlines = (
            cy.c.deadline_submit,
            cy.c.deadline_review,
            cy.c.deadline_confirm,
            cy.c.day_kind,
        )
        # With each group's generation (raised by the triggers), which keys its kept rows.
        if shape.scope == "department_id":
            counts = select(ec.c.state, ec.c.cycle_id, ec.c.n, *deadlines, ec.c.changed).where(
                *kept, ec.c.n > 0
            )
        else:
            total = func.sum(ec.c.n)
            counts = (
                select(ec.c.state, ec.c.cycle_id, total, *deadlines, func.sum(ec.c.changed))
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
            cy.c.day_kind,
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
            cy.c.id,
            cy.c.deadline_submit,
            cy.c.deadline_review,
            cy.c.deadline_confirm,
            cy.c.day_kind,
            *per_state,
        )
        if shape.cycle:
            counts = counts.where(cy.c.id == bindparam("cycle_id"))
    return counts, tuple(w for w in where if w is not state_filter)


@functools.lru_cache(maxsize=64)
def _rows_statement(shape: _Shape, groups: int, extra: RowColumns | None = None) -> Any:
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
    # The names as scalar subqueries on primary keys rather than joins: PostgreSQL searched
    # the join orders of five tables on every request (1 – 2 ms of planning for 0.4 ms of
    # work); a subquery per name is planned once and costs the same index lookups.
    rows = select(
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
        _name_of(pr, ev.c.project_id).label("project"),
        _name_of(unit, ev.c.unit_id).label("unit"),
        _name_of(dept, ev.c.department_id).label("department"),
        _name_of(cy, ev.c.cycle_id).label("cycle"),
        ev.c.returned_reason.is_not(None).label("returned"),
        *(extra.columns if extra else ()),
    ).where(ev.c.id.in_(page_ids))
    if extra:
        rows = rows.select_from(ev.outerjoin(extra.table, extra.table.c[extra.key] == ev.c.id))
    return rows


def _name_of(table: Any, key: Any) -> Any:
    return select(table.c.name).where(table.c.id == key).scalar_subquery()


_STATE_RANK = {state: i for i, state in enumerate(STATE_ORDER)}


def list_evaluations(
    user: Actor, filters: ListFilters, per_page: int = PER_PAGE, extra: RowColumns | None = None
) -> Page:
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
    # (state, cycle, n, the cycle's deadlines and day kind, the group's generation or None)
    counts: list[tuple[str, int, int, date, date, date, str, int | None]] = []
    if _kept_counts(shape):
        counts = [tuple(r) for r in conn.execute(counts_stmt, params)]  # type: ignore[misc]
    elif shape.q:
        counts = [(*r, None) for r in conn.execute(counts_stmt, params)]  # type: ignore[misc]
    else:
        for cycle_id, submit, review, confirm, kind, *per_state in conn.execute(
            counts_stmt, params
        ):
            for state, n in zip(states or STATE_ORDER, per_state, strict=True):
                if n:
                    counts.append((state, cycle_id, n, submit, review, confirm, kind, None))
    on = views.today()  # looked up on views: a test moves the day there
    groups: list[tuple[bool, date, int, int, str, int, Deadline, int | None]] = []
    total = 0
    for state, cycle_id, n, submit, review, confirm, kind, changed in counts:
        total += n
        stage = STATE_STAGE.get(state)
        day = {"submit": submit, "review": review, "confirm": confirm}[stage] if stage else None
        rank = _STATE_RANK[state]
        groups.append(
            (
                day is None,
                day or date.max,
                rank,
                cycle_id,
                state,
                n,
                _deadline(stage, day, on, kind or "calendar"),
                changed,
            )
        )
    groups.sort(key=lambda g: g[:4])
    # The groups this page touches, with the offset and number of rows taken from each.
    offset = (filters.page - 1) * per_page
    wanted = per_page
    touched: dict[tuple[str, int], tuple[int, Deadline]] = {}
    slices: list[tuple[str, int, int | None, int, int]] = []
    for _none, _day, _rank, cycle_id, state, size, deadline, changed in groups:
        if offset >= size:
            offset -= size
            continue
        take = min(size - offset, wanted)
        i = len(touched)
        params.update({f"gs{i}": state, f"gc{i}": cycle_id, f"l{i}": take, f"o{i}": offset})
        touched[(state, cycle_id)] = (i, deadline)
        slices.append((state, cycle_id, changed, take, offset))
        offset = 0
        wanted -= take
        if not wanted:
            break
    rows: list[ListRow] = []
    if not touched:
        return Page(rows, total, filters.page, per_page)
    found = _page_rows(conn, shape, params, slices, extra, touched)
    more: dict[int, tuple[Any, ...]] = {}
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
        returned,
        *added,
    ) in found:
        if extra:
            more[id_] = tuple(added)
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
                bool(returned),
            )
        )
    confirmed = [(r.id, r.final_total, r.final_grade) for r in rows if r.state == "confirmed"]
    if confirmed:
        bad = seal.tampered_among(confirmed)
        rows = [r._replace(tampered=True) if r.id in bad else r for r in rows]
    return Page(rows, total, filters.page, per_page, more, extra)


def _page_rows(
    conn: Any,
    shape: _Shape,
    params: dict[str, Any],
    slices: list[tuple[str, int, int | None, int, int]],
    extra: RowColumns | None,
    touched: dict[tuple[str, int], tuple[int, Deadline]],
) -> list[Any]:
    """The page's rows in page order (the groups in turn, each in id order), from the rows
    statement or, where the page may be kept, from this process's copy.

    A page is kept under everything its rows depend on: the filters, each group's slice
    (state, cycle, offset, size) with the group's generation, which the triggers raise when
    an evaluation moves in or out or changes in place (models/counts.py), and org_generation,
    which the names of organisations, projects and cycles and the risk facts raise. Only
    pages of kept counts whose groups all have a generation (no drafts: theirs does not
    move) are kept, and only when the request reads committed data on a connection of its
    own (nothing it wrote can be in them)."""
    key: tuple[Any, ...] | None = None
    size = int(current_app.config.get("LIST_PAGE_CACHE", 256))
    organisations = g.get("org_generation")
    if (
        size > 0
        and organisations is not None
        and all(
            changed is not None and state != State.DRAFT.value
            for state, _c, changed, _t, _o in slices
        )
        and reads_committed()
    ):
        key = (shape, extra, params["scope_id"], params["cycle_id"], tuple(slices), organisations)
        kept: dict[tuple[Any, ...], list[Any]] = current_app.extensions.setdefault("list_pages", {})
        hit = kept.get(key)
        if hit is not None:
            return hit
    found = conn.execute(_rows_statement(shape, len(touched), extra), params).all()
    found.sort(key=lambda r: (touched[(r[1], r[2])][0], r[0]))
    if key is not None:
        if len(kept) >= size:
            kept.clear()
        kept[key] = found
    return found


def returned_count(user: Actor) -> int:
    """How many of the forms this user may see were sent back (退回) and wait in draft."""
    stmt = (
        select(func.count())
        .select_from(Evaluation)
        .where(
            visible_filter(user),
            Evaluation.state == State.DRAFT.value,
            Evaluation.returned_reason.is_not(None),
        )
    )
    return int(db.session.scalar(stmt) or 0)


@functools.lru_cache(maxsize=8)
def _units_statement(scope: str) -> Any:
    org = Org.__table__
    stmt = select(org.c.id, org.c.name).where(org.c.kind == "unit").order_by(org.c.name)
    if scope != "all":
        stmt = stmt.where(org.c[scope] == bindparam("org_id"))
    return stmt


def units_for(user: Actor) -> list[tuple[int, str]]:
    """The units a user may filter by: its own, its department's, or all of them. Kept per
    process while the organisations are unchanged: the number that says so comes with the
    signed-in user (org_generation_column), so a list page asks nothing more for its filter."""
    role = Role(user.role)
    if role is Role.REVIEWER:
        scope = "parent_id"
    elif role in (Role.FINANCE, Role.SYSADMIN):
        scope = "all"
    else:
        scope = "id"
    key = (scope, user.org_id)
    generation = g.get("org_generation")
    # (scope, organisation) -> (the generation it was read at, its units), per application.
    kept: dict[tuple[str, int], tuple[int, list[tuple[int, str]]]]
    kept = current_app.extensions.setdefault("units_for", {})
    hit = kept.get(key)
    if generation is not None and hit is not None and hit[0] == generation:
        return hit[1]
    rows = db.session.connection().execute(_units_statement(scope), {"org_id": user.org_id})
    units = [(r.id, r.name) for r in rows]
    if generation is not None:
        if len(kept) >= 4096:
            kept.clear()
        kept[key] = (generation, units)
    return units


def org_generation_column() -> Any:
    """How many times the organisations changed (kept by triggers: models/org.py), as a column
    of the statement that reads the signed-in user."""
    table = OrgGeneration.__table__
    return select(table.c.n).where(table.c.id == 1).scalar_subquery()


def remember_org_generation(generation: int | None) -> None:
    g.org_generation = generation


def cycles() -> list[Cycle]:
    return list(db.session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id.desc())))


# --- the paper form --------------------------------------------------------------------------


def visible_filter(user: Actor) -> ColumnElement[Any]:
    """SQL filter for the evaluations this user may see (lists, queues, exports)."""
    column, value = policy.visible_scope(user)
    if column == "all":
        return true()
    if column == "none":
        return false()
    return Evaluation.__table__.c[column] == value
