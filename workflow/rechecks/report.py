"""The deviation report (偏差分析) of a batch: mean |Δ| between self and 复核 totals, the
share of grades changed, the self-grade × 复核-grade matrix, the units and indicators that
deviate most, and the geometry of its SVG chart (drawn by the template, no script).

``summarise`` is pure (plain values in); ``load`` reads a batch for it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from workflow.core.extensions import db
from workflow.machine import RecheckState
from workflow.models import Evaluation, IndicatorScore, Org, Project, RecheckItem, RecheckScore

GRADES = ("优", "良", "中", "差")
TOP = 10
TWO = Decimal("0.01")


@dataclass(frozen=True)
class DoneItem:
    """One completed re-check, as plain values."""

    unit: str
    project: str
    self_total: Decimal
    self_grade: str
    recheck_total: Decimal
    recheck_grade: str
    # indicator name -> (self score, 复核 score)
    indicators: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranked:
    name: str
    count: int
    mean_delta: Decimal  # self − 复核, signed: positive means the self-score was higher
    mean_abs: Decimal


@dataclass
class Bar:
    label: str
    value: Decimal
    y: int
    x: float
    width: float
    css: str


@dataclass
class Chart:
    width: int
    height: int
    zero_x: float
    bars: list[Bar]


@dataclass
class Report:
    items: int
    mean_abs_delta: Decimal | None
    changed: int
    changed_share: Decimal | None
    matrix: list[tuple[str, list[int]]]
    units: list[Ranked]
    indicators: list[Ranked]
    lines: list[DoneItem]
    chart: Chart


def _mean(values: list[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(TWO, ROUND_HALF_UP)


def _rank(groups: dict[str, list[Decimal]]) -> list[Ranked]:
    ranked = [
        Ranked(name, len(d), _mean(d), _mean([abs(x) for x in d])) for name, d in groups.items()
    ]
    ranked.sort(key=lambda r: (-r.mean_abs, r.name))
    return ranked[:TOP]


def summarise(done: Iterable[DoneItem]) -> Report:
    lines = list(done)
    matrix = {g: dict.fromkeys(GRADES, 0) for g in GRADES}
    by_unit: dict[str, list[Decimal]] = defaultdict(list)
    by_indicator: dict[str, list[Decimal]] = defaultdict(list)
    deltas: list[Decimal] = []
    changed = 0
    for d in lines:
        delta = d.self_total - d.recheck_total
        deltas.append(abs(delta))
        by_unit[d.unit].append(delta)
        if d.self_grade in matrix and d.recheck_grade in GRADES:
            matrix[d.self_grade][d.recheck_grade] += 1
        changed += int(d.self_grade != d.recheck_grade)
        for name, (self_score, recheck_score) in d.indicators.items():
            by_indicator[name].append(self_score - recheck_score)
    units = _rank(by_unit)
    return Report(
        items=len(lines),
        mean_abs_delta=_mean(deltas) if deltas else None,
        changed=changed,
        changed_share=(Decimal(changed) / len(lines)).quantize(Decimal("0.0001"))
        if lines
        else None,
        matrix=[(g, [matrix[g][h] for h in GRADES]) for g in GRADES],
        units=units,
        indicators=[r for r in _rank(by_indicator) if r.mean_abs > 0],
        lines=lines,
        chart=unit_chart(units),
    )


WIDTH, LABEL, PAD, ROW = 720, 260, 40, 30


def unit_chart(units: list[Ranked]) -> Chart:
    """Horizontal bars of each unit's mean Δ (self − 复核) around a zero line."""
    span = WIDTH - LABEL - PAD
    biggest = max((abs(u.mean_delta) for u in units), default=Decimal(0)) or Decimal(1)
    negative = any(u.mean_delta < 0 for u in units)
    zero = LABEL + (span / 2 if negative else 0)
    half = span / 2 if negative else span
    bars = []
    for i, u in enumerate(units):
        w = float(abs(u.mean_delta) / biggest) * half
        x = zero if u.mean_delta >= 0 else zero - w
        css = "delta-up" if u.mean_delta > 0 else "delta-down"
        bars.append(Bar(u.name, u.mean_delta, 10 + i * ROW, round(x, 1), round(w, 1), css))
    return Chart(WIDTH, 20 + max(1, len(units)) * ROW, round(zero, 1), bars)


def load(batch_id: int) -> Report:
    items = db.session.execute(
        select(
            RecheckItem.id,
            Evaluation.id,
            Org.name,
            Project.name,
            Evaluation.self_total,
            Evaluation.self_grade,
            RecheckItem.recheck_total,
            RecheckItem.recheck_grade,
        )
        .join(Evaluation, Evaluation.id == RecheckItem.evaluation_id)
        .join(Org, Org.id == RecheckItem.unit_id)
        .join(Project, Project.id == Evaluation.project_id)
        .where(RecheckItem.batch_id == batch_id, RecheckItem.state == RecheckState.DONE.value)
        .order_by(RecheckItem.id)
    ).all()
    evaluation_ids = [r[1] for r in items]
    item_ids = [r[0] for r in items]
    selfs: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for ev_id, code, score in db.session.execute(
        select(IndicatorScore.evaluation_id, IndicatorScore.code, IndicatorScore.self_score).where(
            IndicatorScore.evaluation_id.in_(evaluation_ids),
            IndicatorScore.self_score.is_not(None),
        )
    ):
        selfs[ev_id][code] = score
    rechecked: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for item_id, code, score in db.session.execute(
        select(RecheckScore.item_id, RecheckScore.code, RecheckScore.score).where(
            RecheckScore.item_id.in_(item_ids), RecheckScore.score.is_not(None)
        )
    ):
        rechecked[item_id][code] = score
    names = _indicator_names(evaluation_ids)
    done = []
    for item_id, ev_id, unit, project, st, sg, rt, rg in items:
        if st is None or rt is None:
            continue
        indicators = {
            names.get((ev_id, code), code): (s, rechecked[item_id].get(code, s))
            for code, s in selfs[ev_id].items()
        }
        done.append(DoneItem(unit, project, st, sg or "", rt, rg or "", indicators))
    return summarise(done)


def _indicator_names(evaluation_ids: list[int]) -> dict[tuple[int, str], str]:
    from workflow.evaluations.operations import scheme_of

    out: dict[tuple[int, str], str] = {}
    for ev in db.session.scalars(select(Evaluation).where(Evaluation.id.in_(evaluation_ids))):
        for ind in scheme_of(ev).indicators:
            out[(ev.id, ind.code)] = "／".join(p for p in ind.path if p)
    return out
