"""Ratio and budget rows: rate = numerator / denominator; score = min(rate, 1) × weight.

ratio: 实际支出 / 实际到位 (or the scheme's labels); budget: 全年执行数 / 全年预算数, with the
年初预算数 compared for information.  A zero denominator makes the row not applicable (0/0
"0.00%" included), never a division error.  Without amounts, a rate typed as the actual
("95%") is used; a label is scored as a tier.  ``reason_below`` asks for a reason under a
rate (0.90 for 执行率 in the Sichuan rule).
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from ..numbers import HUNDRED, ONE, InputError, fmt, fmt2, fmt_pct, parse_decimal, parse_quantity
from .base import Entry, Flag, Plan, RowScore, finish, missing_row, text, unfilled_row
from .not_applicable import NA_MARKS, marker_row, na_row
from .quantity import manual_deduction, text_target_flag, tier_fallback

__all__ = ["score_ratio"]


def score_ratio(plan: Plan, entry: Entry) -> RowScore:
    flags: list[Flag] = []
    num_label = plan.num_label
    den_label = plan.den_label
    num_text = text(entry, "numerator")
    den_text = text(entry, "denominator")
    inputs: dict[str, Any] = {"numerator": num_text, "denominator": den_text}
    if entry.get("na"):
        return na_row(plan, "不适用", inputs, flags)
    amounts: tuple[Decimal, Decimal] | None
    if not num_text and not den_text:
        actual_text = text(entry, "actual")
        if not actual_text:
            return missing_row(plan, f"请填写{num_label}和{den_label}", inputs, flags)
        inputs["actual"] = actual_text
        if actual_text in NA_MARKS:
            return marker_row(plan, actual_text, inputs, flags)
        parsed = parse_quantity(actual_text)
        if parsed is None or parsed[2] not in ("%", ""):
            if plan.target_text and plan.target is None:
                flags.append(text_target_flag(plan))
            flags.append(
                Flag(
                    "tier_label_on_quantitative",
                    f"未提供{num_label}和{den_label}，实际完成值“{actual_text}”按定性档次评分",
                    False,
                    plan.code,
                )
            )
            return tier_fallback(plan, entry, inputs, flags)
        percent = parsed[1] if parsed[2] == "%" else parsed[1] * HUNDRED
        rate = percent / HUNDRED
        amounts = None
    else:
        if not num_text or not den_text:
            missing = num_label if not num_text else den_label
            return missing_row(plan, f"请填写{missing}", inputs, flags)
        try:
            numerator = parse_decimal(num_text)
            denominator = parse_decimal(den_text)
        except InputError as exc:
            flags.append(Flag("invalid_number", str(exc), True, plan.code))
            return unfilled_row(plan, inputs, "金额无法识别", flags)
        inputs["numerator_value"] = numerator
        inputs["denominator_value"] = denominator
        if denominator == 0:
            flags.append(
                Flag(
                    "zero_denominator", f"{den_label}为 0，本项不适用（不作除法）", False, plan.code
                )
            )
            return na_row(plan, f"{den_label}为 0，不适用", inputs, flags)
        rate = numerator / denominator
        amounts = (numerator, denominator)
        if plan.kind == "budget":
            _compare_initial(plan, entry, denominator, inputs, flags)
    inputs["rate"] = rate
    needs_reason = False
    if rate > ONE:
        flags.append(
            Flag("rate_above_100", f"比率 {fmt_pct(rate)} 超过 100%，按 100% 计", False, plan.code)
        )
        formula = plan.weight
    else:
        formula = plan.weight * rate
    reason_below = plan.rule.reason_below
    if reason_below is not None and rate < reason_below:
        needs_reason = True
        flags.append(
            Flag(
                "execution_below_threshold",
                f"比率 {fmt_pct(rate)} 低于 {fmt_pct(reason_below)}，须说明原因",
                False,
                plan.code,
            )
        )
    result, extra = (
        manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    explain = partial(_explain, num_label, den_label, amounts, rate, plan.weight, formula, extra)
    return finish(plan, entry, result, inputs, explain, flags, needs_reason)


def _compare_initial(
    plan: Plan, entry: Entry, denominator: Decimal, inputs: dict[str, Any], flags: list[Flag]
) -> None:
    """年初预算数 differing from 全年预算数 is a mid-year adjustment: said, not scored."""
    initial_text = text(entry, "initial")
    if not initial_text:
        return
    try:
        initial = parse_decimal(initial_text)
    except InputError:
        return  # informative only; the score does not use it
    inputs["initial_value"] = initial
    if initial != denominator:
        flags.append(
            Flag(
                "budget_adjusted",
                f"年初预算数 {fmt(initial)} 与全年预算数 {fmt(denominator)} 不同（年中调整），"
                "执行率以全年预算数为分母",
                False,
                plan.code,
            )
        )


def _explain(
    num_label: str,
    den_label: str,
    amounts: tuple[Decimal, Decimal] | None,
    rate: Decimal,
    weight: Decimal,
    formula: Decimal,
    extra: str,
) -> str:
    if amounts is None:
        head = f"{num_label} / {den_label} = {fmt_pct(rate)}（填报比率）"
    else:
        head = (
            f"{num_label} / {den_label} = {fmt(amounts[0])} / {fmt(amounts[1])} = {fmt_pct(rate)}"
        )
    if rate > ONE:
        return f"{head}，超过 100% 按 100% 计，得分 = {fmt(weight)} × 100% = {fmt2(formula)}{extra}"
    return f"{head}，得分 = {fmt(weight)} × {fmt_pct(rate)} = {fmt2(formula)}{extra}"
