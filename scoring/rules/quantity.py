"""Quantitative rows: an actual compared with the target.

- **forward** (≥, >): met → full weight; else actual / target × weight.  Over-achievement
  is capped; actual ≥ ``over_threshold`` × target (or ≥ ``over_zero_target`` for a zero
  target) is flagged and needs a reason.
- **satisfaction**: a percentage scored like forward; above 100% is rejected.
- **equal** (=): a zero target scores full weight when actual ≤ 0, else 0; otherwise forward.
- **reverse** (≤, <): met → full weight; else "ratio" target / actual × weight, or "linear"
  weight × (1 − (actual − target) / target), 0 from twice the target; a zero ceiling
  exceeded scores 0 (never divides by zero).

Negative actuals count as 0 (flagged).  A label typed as the actual, or a text target, is
scored as a tier.  A manual score may only lower the formula's score.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from ..model import tier_from_label
from ..numbers import (
    HUNDRED,
    ONE,
    InputError,
    fmt,
    fmt2,
    fmt_pct,
    parse_decimal,
    parse_quantity,
    q2,
)
from .base import Entry, Flag, Plan, RowScore, finish, missing_row, text, unfilled_row
from .not_applicable import NA_MARKS, marker_row
from .tier import resolve_tier, tier_row

__all__ = [
    "manual_deduction",
    "reverse_formula",
    "score_equal",
    "score_forward",
    "score_reverse",
    "tier_fallback",
    "text_target_flag",
]

_ZERO = Decimal(0)


def score_forward(plan: Plan, entry: Entry) -> RowScore:
    """forward and satisfaction (and equal with a non-zero target)."""
    row, value, unit, inputs, flags = _read_actual(plan, entry)
    if row is not None:
        return row
    if plan.kind == "satisfaction" and unit == "%" and value > HUNDRED:
        flags.append(Flag("invalid_number", f"满意度 {fmt(value)}% 超过 100%", True, plan.code))
        return unfilled_row(plan, inputs, "满意度超过 100%", flags)
    target: Decimal = plan.target  # type: ignore[assignment]
    weight = plan.weight
    over_at = plan.over_at
    over = over_at is not None and value >= over_at and _over(plan, value, unit, flags)
    ratio: Decimal | None
    if value >= target:
        formula = weight
        ratio = None
    else:
        # target > 0 here: value >= 0 = target would have taken the branch above.
        ratio = value / target
        formula = weight * ratio
    result, extra = (
        manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    explain = partial(_explain_forward, value, unit, target, weight, ratio, formula, over, extra)
    return finish(plan, entry, result, inputs, explain, flags, over)


def _explain_forward(
    value: Decimal,
    unit: str,
    target: Decimal,
    weight: Decimal,
    ratio: Decimal | None,
    formula: Decimal,
    over: bool,
    extra: str,
) -> str:
    if ratio is None:
        text = f"实际完成值 {fmt(value)}{unit} ≥ 指标值 {fmt(target)}{unit}，达到目标，得满分 {fmt2(weight)}"
        if over:
            text += "（超额完成，封顶）"
        return text + extra
    return (
        f"实际完成值 {fmt(value)}{unit} / 指标值 {fmt(target)}{unit} = {fmt_pct(ratio)}，"
        f"得分 = {fmt(weight)} × {fmt_pct(ratio)} = {fmt2(formula)}{extra}"
    )


def score_equal(plan: Plan, entry: Entry) -> RowScore:
    if plan.target is None or plan.target != 0:
        return score_forward(plan, entry)
    row, value, unit, inputs, flags = _read_actual(plan, entry)
    if row is not None:
        return row
    if value <= _ZERO:
        formula = plan.weight
        explain = f"指标值为 0，实际完成值 {fmt(value)}{unit}，得满分 {fmt2(plan.weight)}"
    else:
        formula = _ZERO
        explain = f"指标值为 0，实际完成值 {fmt(value)}{unit} 不为 0，得分 0.00"
    result, extra = (
        manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    return finish(plan, entry, result, inputs, explain + extra, flags, False)


def score_reverse(plan: Plan, entry: Entry) -> RowScore:
    row, value, unit, inputs, flags = _read_actual(plan, entry)
    if row is not None:
        return row
    target: Decimal = plan.target  # type: ignore[assignment]
    weight = plan.weight
    formula, case = reverse_formula(value, target, weight, plan.rule.reverse_formula)
    result, extra = (
        manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    explain = partial(_explain_reverse, case, value, unit, target, weight, formula, extra)
    return finish(plan, entry, result, inputs, explain, flags, False)


def reverse_formula(
    value: Decimal, target: Decimal, weight: Decimal, kind: str
) -> tuple[Decimal, str]:
    """A ceiling (≤): full marks when met, else target / actual × weight ("ratio") or a
    linear fall to 0 at twice the target ("linear"); a zero ceiling exceeded scores 0.

    The operators use the current context: callers make it CTX.
    """
    if value <= target:
        return weight, "met"
    if target == 0:
        return _ZERO, "zero"
    if kind == "linear":
        excess = (value - target) / target
        if excess >= ONE:
            return _ZERO, "linear_zero"
        return weight * (ONE - excess), "linear"
    return weight * (target / value), "ratio"


def _explain_reverse(
    case: str,
    value: Decimal,
    unit: str,
    target: Decimal,
    weight: Decimal,
    formula: Decimal,
    extra: str,
) -> str:
    limit = f"上限 {fmt(target)}{unit}"
    if case == "met":
        return f"实际 {fmt(value)}{unit} ≤ {limit}，达到目标，得满分 {fmt2(weight)}{extra}"
    if case == "zero":
        return f"{limit}，实际 {fmt(value)}{unit} 超出，得分 0.00{extra}"
    if case.startswith("linear"):
        tail = "（达到上限两倍，得 0 分）" if case == "linear_zero" else ""
        return (
            f"实际 {fmt(value)}{unit} 超过{limit}，得分 = {fmt(weight)} × (1 − ({fmt(value)} − "
            f"{fmt(target)}) / {fmt(target)}) = {fmt2(formula)}{tail}{extra}"
        )
    return (
        f"实际 {fmt(value)}{unit} 超过{limit}，得分 = {fmt(weight)} × {fmt(target)} / "
        f"{fmt(value)} = {fmt2(formula)}{extra}"
    )


_Read = tuple[RowScore | None, Decimal, str, dict[str, Any], list[Flag]]


def _read_actual(plan: Plan, entry: Entry) -> _Read:
    """The front of every quantitative kind: read the actual, or finish the row here
    (not applicable, missing, not a number, a label or a text target scored as a tier).

    Returns (finished row or None, actual, unit, inputs, flags).
    """
    flags: list[Flag] = []
    actual = entry.get("actual")
    actual_text = actual.strip() if actual.__class__ is str else text(entry, "actual")
    inputs: dict[str, Any] = {"actual": actual_text}
    # A number first, the common case; no not-applicable marker ("/", "-", ...) parses as one.
    parsed = parse_quantity(actual_text) if actual_text else None
    if parsed is None:
        return _not_a_number(plan, entry, actual_text, inputs, flags), _ZERO, "", inputs, flags
    target = plan.target
    value, unit = parsed[1], parsed[2]
    if target is None:
        flags.append(text_target_flag(plan))
        return tier_fallback(plan, entry, inputs, flags), _ZERO, "", inputs, flags
    if value < _ZERO:
        flags.append(
            Flag("negative_actual", f"实际完成值 {fmt(value)} 为负数，按 0 计", False, plan.code)
        )
        value = _ZERO
    target_unit = plan.target_unit
    if unit and target_unit and unit != target_unit:
        flags.append(
            Flag(
                "unit_mismatch",
                f"实际完成值单位“{unit}”与指标值单位“{target_unit}”不同，请核对",
                False,
                plan.code,
            )
        )
    inputs["value"] = value
    return None, value, unit or target_unit, inputs, flags


def _not_a_number(
    plan: Plan, entry: Entry, actual_text: str, inputs: dict[str, Any], flags: list[Flag]
) -> RowScore:
    """The row of an actual that is no number: a marker, nothing, a label, or an error."""
    if actual_text in NA_MARKS:
        return marker_row(plan, actual_text, inputs, flags)
    target = plan.target
    if not actual_text:
        if text(entry, "tier") and target is None:
            return tier_fallback(plan, entry, inputs, flags)
        return missing_row(plan, "请填写实际完成值", inputs, flags)
    if tier_from_label(actual_text) is not None or text(entry, "tier"):
        flags.append(
            Flag(
                "tier_label_on_quantitative",
                f"定量指标的实际完成值“{actual_text}”是档次描述，按定性档次评分",
                False,
                plan.code,
            )
        )
        if target is None:
            flags.append(text_target_flag(plan))
        return tier_fallback(plan, entry, inputs, flags)
    flags.append(Flag("invalid_number", f"实际完成值“{actual_text}”不是数值", True, plan.code))
    return unfilled_row(plan, inputs, "实际完成值无法识别", flags)


def text_target_flag(plan: Plan) -> Flag:
    return Flag(
        "target_not_numeric",
        f"年度指标值“{plan.target_text}”不是数值，无法按公式计分，按达成档次评分",
        False,
        plan.code,
    )


def tier_fallback(plan: Plan, entry: Entry, inputs: dict[str, Any], flags: list[Flag]) -> RowScore:
    """A quantitative row scored by its tier (a label typed, or a text target)."""
    tier, source = resolve_tier(entry)
    inputs["tier"] = tier
    return tier_row(plan, entry, tier, source, inputs, flags, "按档次评分：")


def _over(plan: Plan, value: Decimal, unit: str, flags: list[Flag]) -> bool:
    if plan.over_at is not None and value >= plan.over_at:
        flags.append(
            Flag(
                "over_achievement",
                f"实际完成值 {fmt(value)}{unit} 远超指标值 {plan.target_text}，"
                "按满分封顶，须分析原因",
                False,
                plan.code,
            )
        )
        return True
    return False


def manual_deduction(
    plan: Plan, entry: Entry, formula: Decimal, flags: list[Flag]
) -> tuple[Decimal, str]:
    """A manual score on a formula row may only lower the formula's score.

    Returns (the score to round, the explanation's tail).
    """
    if not entry.get("score"):
        return formula, ""
    score_text = text(entry, "score")
    if not score_text:
        return formula, ""
    try:
        manual = parse_decimal(score_text)
    except InputError as exc:
        flags.append(Flag("invalid_number", f"得分：{exc}", True, plan.code))
        return formula, ""
    rounded = q2(formula)
    if manual > rounded:
        code = "score_above_weight" if manual > plan.weight else "score_above_formula"
        flags.append(
            Flag(code, f"填报得分 {fmt(manual)} 高于按公式计算的 {fmt2(rounded)}", True, plan.code)
        )
        return formula, ""
    if manual < rounded:
        flags.append(
            Flag(
                "deduction_when_met" if rounded == plan.weight else "manual_deduction",
                f"填报得分 {fmt(manual)} 低于按公式计算的 {fmt2(rounded)}，须说明扣分原因",
                False,
                plan.code,
            )
        )
        return manual, f"；扣分后得分 {fmt2(manual)}"
    return formula, ""
