"""The dashboard's figures, each one SQL aggregate over the evaluations a user may see.

Every query carries queries.visible_filter(user): finance and admin see everything, a
department reviewer only the evaluations of its own units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import aliased

from workflow.core.days import days_left, days_text
from workflow.core.extensions import db
from workflow.evaluations import queries, seal
from workflow.machine import STATE_LABELS, State
from workflow.models import Actor, AuditLog, Cycle, Evaluation, Org, Project

GRADES = ("优", "良", "中", "差")
NO_GRADE = "未评分"


@dataclass(frozen=True)
class StateCount:
    state: State
    label: str
    count: int


@dataclass(frozen=True)
class DepartmentGrades:
    department_id: int
    department: str
    counts: dict[str, int]  # grade (or NO_GRADE) -> count

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class OverdueRow:
    evaluation_id: int
    project: str
    unit: str
    department: str
    state: State
    state_label: str
    deadline: date
    days_overdue: int  # counted as the cycle counts (calendar or working days)
    days_text: str = ""  # 已逾期 3 个工作日: the words every page and e-mail use


@dataclass(frozen=True)
class StageDays:
    state: State
    label: str
    completed: int  # stays that ended
    completed_avg: Decimal | None  # their average length in days
    current: int  # evaluations in this state now
    current_avg: Decimal | None  # how long they have been in it so far


TAMPERED = "已篡改：与 SM2 签章不一致"


@dataclass(frozen=True)
class DetailRow:
    evaluation_id: int
    department: str
    unit: str
    project: str
    state_label: str
    self_total: Decimal | None
    self_grade: str | None
    dept_total: Decimal | None
    dept_grade: str | None
    final_total: Decimal | None
    final_grade: str | None
    deadline: date | None  # of the stage it is in; None once confirmed


def _scope(user: Actor, cycle_id: int | None) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = queries.visible_filter(user)
    if cycle_id is not None:
        condition = and_(condition, Evaluation.cycle_id == cycle_id)
    return condition


def current_grade() -> ColumnElement[Any]:
    """The grade of the stage an evaluation has reached (final, else review, else self)."""
    return func.coalesce(Evaluation.final_grade, Evaluation.dept_grade, Evaluation.self_grade)


def stage_deadline() -> ColumnElement[Any]:
    """The deadline of the stage the evaluation is in (needs Cycle joined)."""
    return case(
        (Evaluation.state == State.DRAFT.value, Cycle.deadline_submit),
        (
            Evaluation.state.in_([State.SELF_SCORED.value, State.DEPT_REVIEW.value]),
            Cycle.deadline_review,
        ),
        (Evaluation.state == State.FINANCE_CONFIRMATION.value, Cycle.deadline_confirm),
        else_=None,
    )


def state_counts(user: Actor, cycle_id: int | None = None) -> list[StateCount]:
    rows = db.session.execute(
        select(Evaluation.state, func.count())
        .where(_scope(user, cycle_id))
        .group_by(Evaluation.state)
    ).all()
    counts = {state: int(n) for state, n in rows}
    return [StateCount(s, STATE_LABELS[s], counts.get(s.value, 0)) for s in State]


def grade_distribution(user: Actor, cycle_id: int | None = None) -> list[DepartmentGrades]:
    grade = current_grade()
    rows = db.session.execute(
        select(Evaluation.department_id, Org.name, grade, func.count())
        .join(Org, Org.id == Evaluation.department_id)
        .where(_scope(user, cycle_id))
        .group_by(Evaluation.department_id, Org.name, grade)
        .order_by(Org.name)
    ).all()
    by_dept: dict[int, DepartmentGrades] = {}
    for dept_id, name, g, n in rows:
        entry = by_dept.setdefault(
            dept_id, DepartmentGrades(dept_id, name, dict.fromkeys((*GRADES, NO_GRADE), 0))
        )
        key = g if g in GRADES else NO_GRADE
        entry.counts[key] += int(n)
    return list(by_dept.values())


def overdue(
    user: Actor, today: date, cycle_id: int | None = None, limit: int = 500
) -> list[OverdueRow]:
    deadline = stage_deadline()
    dept = aliased(Org)
    unit = aliased(Org)
    rows = db.session.execute(
        select(
            Evaluation.id,
            Project.name,
            unit.name,
            dept.name,
            Evaluation.state,
            deadline.label("deadline"),
            Cycle.day_kind,
        )
        .join(Cycle, Cycle.id == Evaluation.cycle_id)
        .join(Project, Project.id == Evaluation.project_id)
        .join(unit, unit.id == Evaluation.unit_id)
        .join(dept, dept.id == Evaluation.department_id)
        .where(
            _scope(user, cycle_id),
            Evaluation.state != State.CONFIRMED.value,
            deadline < today,
        )
        .order_by(deadline, Evaluation.id)
        .limit(limit)
    ).all()
    result = []
    for ev_id, project, unit_name, dept_name, state, dl, kind in rows:
        st = State(state)
        left = days_left(today, dl, kind)
        result.append(
            OverdueRow(
                ev_id,
                project,
                unit_name,
                dept_name,
                st,
                STATE_LABELS[st],
                dl,
                -left,
                days_text(left, kind),
            )
        )
    return result


def _days_between(later: Any, earlier: Any) -> ColumnElement[Any]:
    """later - earlier in days, as a number, in the database's own dialect."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def stage_days(user: Actor, now: datetime, cycle_id: int | None = None) -> list[StageDays]:
    """Average days spent in each state, from the audit log's transitions.

    A stay in state S ends with an audit row whose from_state is S; it began at the
    previous audit row of the same evaluation (LAG), or at the evaluation's creation.
    Stays still going on are reported apart, from stage_entered_at to now.
    """
    previous = func.lag(AuditLog.created_at).over(
        partition_by=AuditLog.evaluation_id, order_by=(AuditLog.created_at, AuditLog.id)
    )
    moves = (
        select(
            AuditLog.from_state.label("state"),
            func.coalesce(previous, Evaluation.created_at).label("entered"),
            AuditLog.created_at.label("left"),
            AuditLog.to_state.label("to_state"),
        )
        .join(Evaluation, Evaluation.id == AuditLog.evaluation_id)
        .where(_scope(user, cycle_id), AuditLog.to_state.is_not(None))
        .subquery()
    )
    completed_rows = db.session.execute(
        select(
            moves.c.state,
            func.count(),
            func.avg(_days_between(moves.c.left, moves.c.entered)),
        )
        .where(moves.c.state.is_not(None))
        .group_by(moves.c.state)
    ).all()
    completed = {state: (int(n), avg) for state, n, avg in completed_rows}
    now_value = literal(now.replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else now)
    current_rows = db.session.execute(
        select(
            Evaluation.state,
            func.count(),
            func.avg(_days_between(now_value, Evaluation.stage_entered_at)),
        )
        .where(_scope(user, cycle_id))
        .group_by(Evaluation.state)
    ).all()
    current = {state: (int(n), avg) for state, n, avg in current_rows}

    def _dec(value: Any) -> Decimal | None:
        if value is None:
            return None
        return max(Decimal(str(value)), Decimal(0)).quantize(Decimal("0.1"))

    out = []
    for s in State:
        c_n, c_avg = completed.get(s.value, (0, None))
        n, avg = current.get(s.value, (0, None))
        out.append(
            StageDays(
                s,
                STATE_LABELS[s],
                c_n,
                _dec(c_avg),
                n,
                None if s is State.CONFIRMED else _dec(avg),
            )
        )
    return out


def details(
    user: Actor,
    cycle_id: int | None = None,
    limit: int = 100_000,
    states: tuple[str, ...] = (),
) -> list[DetailRow]:
    """One row per evaluation (for the export), in one query; `states` narrows it (a queue's
    export)."""
    dept = aliased(Org)
    unit = aliased(Org)
    rows = db.session.execute(
        select(
            Evaluation.id,
            dept.name,
            unit.name,
            Project.name,
            Evaluation.state,
            Evaluation.self_total,
            Evaluation.self_grade,
            Evaluation.dept_total,
            Evaluation.dept_grade,
            Evaluation.final_total,
            Evaluation.final_grade,
            stage_deadline(),
        )
        .join(Cycle, Cycle.id == Evaluation.cycle_id)
        .join(Project, Project.id == Evaluation.project_id)
        .join(unit, unit.id == Evaluation.unit_id)
        .join(dept, dept.id == Evaluation.department_id)
        .where(_scope(user, cycle_id), *([Evaluation.state.in_(states)] if states else []))
        .order_by(dept.name, unit.name, Evaluation.id)
        .limit(limit)
    ).all()
    # A confirmed grade is shown checked against its SM2 seal, as on every list.
    tampered = seal.tampered_among([(r[0], r[9], r[10]) for r in rows if r[10] is not None])
    return [
        DetailRow(
            r[0],
            r[1],
            r[2],
            r[3],
            STATE_LABELS[State(r[4])],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            f"{r[10]}（{TAMPERED}）" if r[0] in tampered else r[10],
            r[11],
        )
        for r in rows
    ]


def cycles() -> list[Cycle]:
    return list(db.session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id.desc())))
