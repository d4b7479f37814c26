"""One row per indicator of every evaluation in scope: the export's 指标明细 sheet (the three
score columns, the reasons for every change, the unit's 偏差原因分析及改进措施)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from workflow.core.extensions import db
from workflow.dashboard.queries import _scope
from workflow.evaluations.operations import scheme_of
from workflow.models import Actor, Evaluation, Org


@dataclass(frozen=True)
class IndicatorRow:
    evaluation_id: int
    department: str
    unit: str
    project: str
    level1: str
    level2: str
    name: str
    weight: Decimal
    applicable: bool
    self_score: Decimal | None
    dept_score: Decimal | None
    dept_reason: str
    final_score: Decimal | None
    final_reason: str
    deviation: str


def indicator_rows(
    user: Actor, cycle_id: int | None = None, states: tuple[str, ...] = (), limit: int = 5_000
) -> list[IndicatorRow]:
    """The indicators of at most `limit` evaluations, in the order of the 明细 sheet."""
    stmt = (
        select(Evaluation)
        .join(Org, Org.id == Evaluation.unit_id)
        .where(_scope(user, cycle_id), *([Evaluation.state.in_(states)] if states else []))
        .options(
            joinedload(Evaluation.project),
            joinedload(Evaluation.unit),
            joinedload(Evaluation.department),
            joinedload(Evaluation.framework),
            joinedload(Evaluation.target_version),
            joinedload(Evaluation.scheme_snapshot),
            selectinload(Evaluation.rows),
        )
        .order_by(Evaluation.department_id, Org.name, Evaluation.id)
        .limit(limit)
    )
    found: list[IndicatorRow] = []
    for ev in db.session.scalars(stmt).unique():
        paths = {ind.code: ind.path for ind in scheme_of(ev).indicators}
        entries = ev.entries or {}
        for row in ev.rows:
            path = (*paths.get(row.code, ("", "", row.code)), "", "")
            entry = entries.get(row.code)
            deviation = str(entry.get("reason") or "") if isinstance(entry, dict) else ""
            found.append(
                IndicatorRow(
                    ev.id,
                    ev.department.name,
                    ev.unit.name,
                    ev.project.name,
                    path[0],
                    path[1],
                    path[2],
                    row.weight,
                    row.applicable,
                    row.self_score,
                    row.dept_score,
                    row.dept_reason or "",
                    row.final_score,
                    row.final_reason or "",
                    deviation.strip(),
                )
            )
    return found
