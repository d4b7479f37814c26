"""Scoring: from a scheme and what a unit entered, every row's score, the total and the grade.

The engine compiles a scheme once into a plan per indicator (parsed target, bands) and
scores each row with its kind's one function in :mod:`scoring.rules`; this module sums the
rounded rows, applies the not-applicable policy and grades.

Rules applied (domain-rules.md §2, §6, §8; the defaults are the recommended ones):

- **checklist** (Jiangsu 决策/过程): each 评价要点 is rated 达成 / 部分达成 / 未达成; the item's
  band is weight × Σ share_i × band_i.  A manual score must fall inside it; without one the
  top of the band is used (the largest 2-place score below an open upper bound).
- **tier** (定性): the tier fixes the band [80%,100%], [60%,80%), [0,60%) of the weight.
- **forward** (≥, >): met → full weight; else actual / target × weight.  Over-achievement is
  capped; actual ≥ ``over_threshold`` × target (or ≥ ``over_zero_target`` for a zero target)
  is flagged and needs a reason.  "≥" and ">" are scored alike.
- **equal** (=): a zero target scores full weight when actual ≤ 0, else 0; otherwise forward.
- **reverse** (≤, <): met → full weight; else the rule's formula: "ratio" target / actual ×
  weight, or "linear" weight × (1 − (actual − target) / target), 0 from twice the target.
  A zero target scores full weight when actual ≤ 0, else 0 (never divides by zero).
- **satisfaction**: a percentage scored like forward; above 100% is rejected.
- **ratio** / **budget**: rate = numerator / denominator (实际支出/实际到位, 实际到位/预算,
  全年执行数/全年预算数); score = min(rate, 1) × weight.  A zero denominator makes the row not
  applicable (0/0 "0.00%" included), never a division error.
- Negative actuals count as 0 (flagged).  Rows are rounded ROUND_HALF_UP to 2 places; the
  total is the sum of the rounded rows.
- **Not applicable** rows (entry ``na``, an actual of "/", "—", "-" or "*", a zero
  denominator, a weight of 0) get ``score=None``; the scheme's ``na_policy`` decides the
  total: "rescale" multiplies the sum by total / applicable weight (按百分制折算), "exclude"
  leaves their weight out.  "Not filled" (``filled=False``) is different: it blocks
  submission and counts as 0 in the provisional total.
- Grades are half-open: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 < 60.

Flags.  Blocking (submission must stop): ``missing_input`` (no actual / tier / amounts),
``invalid_number``, ``invalid_tier``, ``score_above_weight``, ``score_outside_band`` (a
manual score outside its tier's band), ``score_above_formula``, ``reason_required`` (a
偏差原因分析及改进措施 is required and empty: row below full weight, over-achievement past the
threshold, 执行率 below the rule's ``reason_below``), ``weights_mismatch``.
Non-blocking: ``label_score_mismatch`` (a published score outside the band its label claims),
``over_achievement``, ``target_not_numeric``, ``tier_label_on_quantitative``,
``negative_actual``, ``unit_mismatch``, ``rate_above_100``, ``zero_denominator``,
``execution_below_threshold``, ``budget_adjusted``, ``deduction_when_met``, ``na_marker``,
``na_rescaled``, ``na_excluded``, ``unknown_entry``.

Imported entries (``"imported": True``, set by :mod:`scoring.importers`) are published,
historic values: the engine still flags them, but ``score_outside_band`` becomes
``label_score_mismatch`` and ``reason_required`` does not block, because a published form
must be readable as it is (domain-rules §8.20).  The web app never sets ``imported``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from operator import itemgetter
from typing import Any

from .model import TIERS, Scheme
from .numbers import CTX, ZERO, fmt, q2
from .rules import SCORERS
from .rules.base import Entry, Flag, Plan, RowScore, band, reason_flags
from .rules.checklist import point_parts
from .rules.not_applicable import NA_MARKS, apply_policy, na_row

__all__ = [
    "NA_MARKS",
    "Flag",
    "RowScore",
    "Scorecard",
    "grade_for",
    "score",
    "stage_total",
]

Entries = Mapping[str, Entry]

_EMPTY: Mapping[str, Any] = {}
_GRADES = ((Decimal(90), "优"), (Decimal(80), "良"), (Decimal(60), "中"))
_BLOCKING = itemgetter(2)  # Flag.blocking


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The result of :func:`score`: rows in scheme order, total, grade and all flags."""

    scheme_name: str
    scheme_version: str
    rows: list[RowScore]
    total: Decimal
    grade: str
    flags: list[Flag]
    blocking: bool
    raw_sum: Decimal = ZERO
    applicable_weight: Decimal = ZERO

    def row(self, code: str) -> RowScore:
        for item in self.rows:
            if item.code == code:
                return item
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": {"name": self.scheme_name, "version": self.scheme_version},
            "total": str(self.total),
            "grade": self.grade,
            "blocking": self.blocking,
            "raw_sum": str(self.raw_sum),
            "applicable_weight": str(self.applicable_weight),
            "flags": [f.to_dict() for f in self.flags],
            "rows": [r.to_dict() for r in self.rows],
        }


def grade_for(total: Decimal) -> str:
    """优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 < 60 (half-open: 90.00 优, 89.99 良)."""
    for bound, grade in _GRADES:
        if total >= bound:
            return grade
    return "差"


# --------------------------------------------------------------------------------------
# Compiling a scheme


@dataclass(frozen=True, slots=True)
class _Compiled:
    plans: tuple[Plan, ...]
    full_weight: Decimal  # every indicator's weight
    form_flags: tuple[Flag, ...]  # weights that do not add up
    codes: frozenset[str]
    # The weight of the rows of non-zero weight, summed in order through CTX: the applicable
    # weight of a form where every row applies (the common case, so score() skips the sum).
    all_weight: Decimal


def _plan(scheme: Scheme, index: int) -> Plan:
    ind = scheme.indicators[index]
    weight = ind.weight
    target = ind.target.value
    over_at: Decimal | None = None
    if target is not None:
        over_at = (
            scheme.over_zero_target if target == 0 else CTX.multiply(target, scheme.over_threshold)
        )
    kind = ind.rule.kind
    budget = kind == "budget"
    return Plan(
        code=ind.code,
        path=ind.path,
        weight=weight,
        kind=kind,
        rule=ind.rule,
        target=target,
        target_unit=ind.target.unit,
        target_text=ind.target.text,
        over_at=over_at,
        bands={
            name: band(
                CTX.multiply(weight, tier.low), CTX.multiply(weight, tier.high), tier.high_inclusive
            )
            for name, tier in TIERS.items()
        },  # fmt: skip
        point_parts=point_parts(ind.rule.shares),
        manual=scheme.tier_default == "manual",
        num_label=ind.rule.numerator_label or ("全年执行数" if budget else "实际支出"),
        den_label=ind.rule.denominator_label or ("全年预算数" if budget else "实际到位"),
        score_row=SCORERS[kind],
        reason_flags=reason_flags(ind.code),
    )


def _compile(scheme: Scheme) -> _Compiled:
    """The scheme's plan, built on first use and kept on the (immutable) scheme."""
    cached = scheme._cache.get("plan")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    plans = tuple(_plan(scheme, index) for index in range(len(scheme.indicators)))
    full = sum((p.weight for p in plans), ZERO)
    compiled = _Compiled(
        plans,
        full,
        tuple(Flag("weights_mismatch", m, True, None) for m in _weight_messages(scheme, full)),
        frozenset(p.code for p in plans),
        _sum_weights(p for p in plans if p.weight),
    )
    scheme._cache["plan"] = compiled
    return compiled


def _sum_weights(plans: Iterable[Plan]) -> Decimal:
    total = ZERO
    for plan in plans:
        total = CTX.add(total, plan.weight)
    return total


def _weight_messages(scheme: Scheme, full: Decimal) -> list[str]:
    messages: list[str] = []
    if full != scheme.total:
        messages.append(f"三级指标分值合计 {fmt(full)}，与总分 {fmt(scheme.total)} 不一致")
    for group in scheme.groups:
        if group.weight is None:
            continue
        depth = len(group.path)
        inside = sum((i.weight for i in scheme.indicators if i.path[:depth] == group.path), ZERO)
        if inside != group.weight:
            messages.append(
                f"“{' / '.join(group.path)}”标注 {fmt(group.weight)} 分，其下分值合计 {fmt(inside)}"
            )
    return messages


# --------------------------------------------------------------------------------------
# Public entry points


def score(scheme: Scheme, entries: Entries) -> Scorecard:
    """Score a form.  Pure and deterministic; ``entries`` maps indicator code to its inputs."""
    compiled = _compile(scheme)
    rows: list[RowScore] = []
    flags: list[Flag] = list(compiled.form_flags)
    append = rows.append
    get = entries.get
    raw = ZERO
    every_row_applies = True
    # CTX is the current context while the rows are scored and summed: the rules' Decimal
    # operators then compute exactly what CTX's methods would, whatever the caller's context.
    with localcontext(CTX):
        for plan in compiled.plans:
            entry = get(plan.code) or _EMPTY
            if entry.get("na"):
                row = na_row(plan, "不适用（已标注）", {"na": True}, [])
                every_row_applies = False
            elif not plan.weight:
                row = na_row(plan, "分值为空，不计分", {}, [])
            else:
                row = plan.score_row(plan, entry)
                # row[3] is .score, row[4] .applicable, row[8] .flags (index access is cheaper).
                if row[3] is not None:
                    raw += row[3]  # rows are already rounded to 2 places
                elif not row[4]:
                    every_row_applies = False
            append(row)
            if row[8]:
                flags.extend(row[8])
    if every_row_applies:
        applicable = compiled.all_weight
    else:
        applicable = _sum_weights(
            plan for plan, row in zip(compiled.plans, rows, strict=True) if row[4]
        )
    codes = compiled.codes
    for code in entries:
        if code not in codes:
            flags.append(
                Flag("unknown_entry", f"指标代码“{code}”不在指标体系中，已忽略", False, None)
            )
    total, policy_flag = apply_policy(
        scheme.na_policy, scheme.total, compiled.full_weight, raw, applicable
    )
    if policy_flag is not None:
        flags.append(policy_flag)
    return Scorecard(
        scheme.name,
        scheme.version,
        rows,
        total,
        grade_for(total),
        flags,
        any(map(_BLOCKING, flags)),
        raw,
        applicable,
    )


def stage_total(scheme: Scheme, scores: Mapping[str, Decimal | None]) -> Decimal:
    """Total of one score column (self, department review or finance), same policy as score().

    A code mapped to None, or absent, is not applicable; indicators of weight 0 never count.
    Scores are rounded per row before summing, as in :func:`score`.
    """
    compiled = _compile(scheme)
    raw = ZERO
    applicable = ZERO
    for plan in compiled.plans:
        value = scores.get(plan.code)
        if value is None or plan.weight == 0:
            continue
        applicable = CTX.add(applicable, plan.weight)
        raw = CTX.add(raw, q2(value))
    total, _flag = apply_policy(
        scheme.na_policy, scheme.total, compiled.full_weight, raw, applicable
    )
    return total
