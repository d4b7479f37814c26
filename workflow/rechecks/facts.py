"""The risk facts of an evaluation (what risk.py reads), taken from its frozen self scores,
its project's amounts and its targets' adjustments, and kept in ``risk_facts``."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import (
    Integer,
    Numeric,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql

import scoring
from scoring.model import QUANTITATIVE_KINDS
from workflow.core.extensions import db
from workflow.evaluations.queries import Page, RowColumns
from workflow.models import Evaluation, RiskFacts, utcnow

__all__ = ["RiskFacts"]
from workflow.rechecks import risk

FACT_FIELDS = tuple(risk.Facts.__dataclass_fields__)
SUBMITTED_STATES = ("self_scored", "dept_review", "finance_confirmation", "confirmed")
QUALITATIVE_KINDS = frozenset({"tier", "checklist"})


def _rate(spent: Decimal | None, budget: Decimal | None) -> Decimal | None:
    if spent is None or budget is None or budget <= 0:
        return None
    return (spent / budget).quantize(Decimal("0.0001"))


def _actual(inputs: dict[str, object]) -> Decimal | None:
    value = inputs.get("value")
    return value if isinstance(value, Decimal) else None


def facts_of(evaluation: Evaluation) -> RiskFacts:
    """The facts of one submitted evaluation (a new, unsaved row)."""
    from workflow.evaluations.operations import scheme_of

    scheme = scheme_of(evaluation)
    card = scoring.score(scheme, evaluation.entries or {})
    by_code = {ind.code: ind for ind in scheme.indicators}
    self_scores = {row.code: row.self_score for row in evaluation.rows}
    qualitative = full_qualitative = shortfall = mismatch = 0
    over: Decimal | None = None
    for r in card.rows:
        ind = by_code.get(r.code)
        score = self_scores.get(r.code)
        if ind is None or score is None or not r.applicable or r.weight <= 0:
            continue
        full = score >= r.weight
        kind = ind.rule.kind
        if kind in QUALITATIVE_KINDS:
            qualitative += 1
            full_qualitative += int(full)
        if r.tier in scoring.TIERS:
            band = scoring.TIERS[r.tier]
            share = score / r.weight
            above = share > band.high if band.high_inclusive else share >= band.high
            if share < band.low or above:
                mismatch += 1
        actual = _actual(r.inputs)
        target = ind.target
        if kind in QUANTITATIVE_KINDS and actual is not None and target.value is not None:
            short = (target.op in (">=", ">") and actual < target.value) or (
                target.op in ("<=", "<") and actual > target.value
            )
            shortfall += int(short and full)
            entry = (evaluation.entries or {}).get(r.code) or {}
            reason = str(entry.get("reason") or "").strip() if isinstance(entry, dict) else ""
            if target.op in (">=", ">") and target.value > 0 and not reason:
                ratio = (actual / target.value).quantize(Decimal("0.0001"))
                over = ratio if over is None or ratio > over else over
    adjusted = month = None
    version = evaluation.target_version
    if version is not None and version.kind == "adjustment" and version.approved_at is not None:
        adjusted = version.approved_at.date()
        month = (adjusted.year - evaluation.cycle.year) * 12 + adjusted.month
    project = evaluation.project
    return RiskFacts(
        evaluation_id=evaluation.id,
        evaluation_version=evaluation.version,
        cycle_id=evaluation.cycle_id,
        department_id=evaluation.department_id,
        self_total=evaluation.self_total,
        self_grade=evaluation.self_grade,
        dept_total=evaluation.dept_total,
        execution_rate=_rate(project.spent, project.budget_full),
        qualitative_rows=qualitative,
        qualitative_full=full_qualitative,
        shortfall_full=shortfall,
        over_no_reason=over,
        tier_mismatch=mismatch,
        adjusted_on=adjusted,
        adjusted_month=month,
        computed_at=utcnow(),
    )


def refresh(cycle_id: int | None = None, evaluation_ids: Iterable[int] | None = None) -> int:
    """Take the facts of every submitted evaluation (of a cycle, or these) whose facts are
    missing or older than the evaluation; in the caller's transaction. Returns how many."""
    query = (
        select(Evaluation)
        .outerjoin(RiskFacts, RiskFacts.evaluation_id == Evaluation.id)
        .where(
            Evaluation.state.in_(SUBMITTED_STATES),
            or_(
                RiskFacts.evaluation_id.is_(None),
                RiskFacts.evaluation_version != Evaluation.version,
            ),
        )
    )
    if cycle_id is not None:
        query = query.where(Evaluation.cycle_id == cycle_id)
    if evaluation_ids is not None:
        query = query.where(Evaluation.id.in_(list(evaluation_ids)))
    done = 0
    for evaluation in db.session.scalars(query):
        fresh = facts_of(evaluation)
        db.session.merge(fresh)
        done += 1
    if done:
        db.session.flush()
    return done


def as_plain(row: RiskFacts) -> risk.Facts:
    return risk.Facts(
        self_total=row.self_total,
        dept_total=row.dept_total,
        execution_rate=row.execution_rate,
        qualitative_rows=row.qualitative_rows,
        qualitative_full=row.qualitative_full,
        shortfall_full=row.shortfall_full,
        over_no_reason=row.over_no_reason,
        tier_mismatch=row.tier_mismatch,
        adjusted_on=row.adjusted_on,
        adjusted_month=row.adjusted_month,
    )


def mask_expression(limits: risk.Thresholds, per_rule: list[Any] | None = None) -> Any:
    """The rules (risk.RULES, as data) compiled into one SQL expression over risk_facts: the
    sum of 2**i for every rule i that fires (bit i = RULES[i]), or of per_rule[i] (1 each:
    how many fire). Thresholds are literals.

    A fact that is not known (NULL) makes its comparison NULL, so the rule does not fire, as
    in Python (``RiskRule.applies``); no separate IS NOT NULL is needed (a third of the
    expression's cost over a million rows)."""
    columns = RiskFacts.__table__.c
    terms = []
    for i, rule in enumerate(risk.RULES):
        parts = []
        for fact, op, right in rule.conditions:
            if isinstance(right, int):
                value: Any = _number(right)
            elif isinstance(right, tuple):
                value = columns[right[0]] + _number(getattr(limits, right[1]))
            elif right.startswith("fact:"):
                value = columns[right[5:]]
            else:
                value = _number(getattr(limits, right))
            parts.append(_COMPARE[op](columns[fact], value))
        value = _number(per_rule[i] if per_rule is not None else 1 << i)
        terms.append(case((and_(*parts), value), else_=_number(0)))
    return sum(terms[1:], terms[0])


def _number(value: int | Decimal) -> Any:
    """A number written into the statement (not a parameter: the statement is built once per
    thresholds, and its two dozen parameters were bound on every execution)."""
    return literal_column(
        format(Decimal(value), "f"), Numeric() if isinstance(value, Decimal) else Integer()
    )


_COMPARE = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}
BITS = [bin(m).count("1") for m in range(1 << len(risk.RULES))]


def thresholds() -> risk.Thresholds:
    return risk.Thresholds.from_config(current_app.config)


def findings_for(evaluation_ids: Iterable[int]) -> dict[int, list[risk.Finding]]:
    """The risk findings of those of these evaluations that have any (from their stored
    facts; an evaluation without facts has none yet). The database says which rules fire
    and sends the facts of those rows only (the review queue asks on every request); the
    reasons are written for those."""
    ids = list(evaluation_ids)
    if not ids:
        return {}
    limits = thresholds()
    statement = _findings_statement(limits, db.session.get_bind().dialect.name)
    rows = db.session.execute(statement, {"ids": ids})
    return {
        ev_id: risk.assess_mask(bits, risk.Facts(*values), limits) for ev_id, bits, *values in rows
    }


def list_columns() -> RowColumns:
    """The risk facts and their rule mask as columns of a queue's rows statement (read with
    its rows; see findings_from)."""
    return _list_columns(thresholds())


@functools.lru_cache(maxsize=8)
def _list_columns(limits: risk.Thresholds) -> RowColumns:
    columns = RiskFacts.__table__.c
    return RowColumns(
        RiskFacts.__table__,
        "evaluation_id",
        (mask_expression(limits), *(columns[n] for n in FACT_FIELDS)),
    )


def findings_from(page: Page) -> dict[int, list[risk.Finding]]:
    """The findings of a page's evaluations that have any: from the columns of list_columns
    where the page read them with its rows, else in a statement of their own."""
    limits = thresholds()
    if page.extra_columns is not _list_columns(limits):
        return findings_for([r.id for r in page.rows])
    return {
        ev_id: risk.assess_mask(int(values[0]), risk.Facts(*values[1:]), limits)
        for ev_id, values in page.extra.items()
        if values[0]
    }


@functools.lru_cache(maxsize=8)
def _findings_statement(limits: risk.Thresholds, dialect: str) -> Any:
    """Built once per thresholds: building the rules' expression cost more than running it.
    PostgreSQL takes the ids as one array parameter; SQLite, which has no arrays, as a list
    expanded into the statement on every execution."""
    columns = RiskFacts.__table__.c
    mask = mask_expression(limits)
    if dialect == "postgresql":
        ids = columns.evaluation_id == func.any(bindparam("ids", type_=postgresql.ARRAY(Integer)))
    else:
        ids = columns.evaluation_id.in_(bindparam("ids", expanding=True))
    return select(columns.evaluation_id, mask, *(columns[n] for n in FACT_FIELDS)).where(
        ids, mask > 0
    )
