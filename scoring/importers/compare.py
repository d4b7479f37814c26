"""Published against computed: every difference of an imported form is a flag with its numbers.

The engine scores what the rules give (:func:`scoring.engine.score`); this layer puts each
row's published score beside it and says why they differ — a deduction although the target is
met, a score above the formula, a score above the weight — and checks the printed numbers
against each other: a printed 执行率 that differs from its amounts, a printed total that is
not the sum of the printed rows, block labels the rows do not add up to, a total that is not
100.  An incomplete form is flagged (blocking) and not graded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..engine import Flag, RowScore, Scorecard, score
from ..numbers import CTX, HUNDRED, ZERO, InputError, fmt, fmt2, parse_decimal
from .base import ImportResult

__all__ = ["FormCheck", "check_form"]

_HUNDRED_POINTS = Decimal(100)


@dataclass(frozen=True)
class FormCheck:
    """An imported form scored and compared.  ``grade`` is None for an incomplete form."""

    result: ImportResult
    card: Scorecard
    row_flags: dict[str, list[Flag]]
    flags: list[Flag]
    blocking: bool
    grade: str | None


def _number(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return parse_decimal(text, allow_percent=True)
    except InputError:
        return None


def _row_flags(row: RowScore, published: str, reason: str) -> list[Flag]:
    """The flags of one row's published score against the computed one."""
    if not published:
        return []
    code = row.code
    p = _number(published)
    if p is None:
        return [
            Flag("published_not_numeric", f"公布得分“{published}”不是数值，无法比较", False, code)
        ]
    if row.score is None:
        why = "按规则不适用" if not row.applicable else "缺少计分所需的数据"
        return [
            Flag(
                "published_not_recomputed",
                f"公布得分 {fmt(p)}，但本行{why}（{row.explanation}），未重新计分",
                False,
                code,
            )
        ]
    c, w = row.score, row.weight
    if p > w:
        return [
            Flag("published_above_weight", f"公布得分 {fmt(p)} 高于本行分值 {fmt(w)}", True, code)
        ]
    if p > c:
        return [
            Flag(
                "published_above_formula",
                f"公布得分 {fmt(p)} 高于按规则计算的 {fmt2(c)}（{row.explanation}），多计 {fmt2(p - c)} 分",
                False,
                code,
            )
        ]
    if p < c and c == w:
        said = f"，扣分原因：{reason}" if reason else "，未说明扣分原因"
        return [
            Flag(
                "published_deduction_when_met",
                f"指标已达成（{row.explanation}），公布得分 {fmt(p)} 仍比满分 {fmt(w)} 少 {fmt2(w - p)} 分{said}",
                False,
                code,
            )
        ]
    if p < c:
        return [
            Flag(
                "published_below_formula",
                f"公布得分 {fmt(p)} 低于按规则计算的 {fmt2(c)}（{row.explanation}），少计 {fmt2(c - p)} 分",
                False,
                code,
            )
        ]
    return []


def _rate_flag(result: ImportResult) -> Flag | None:
    """A printed 执行率 against 全年执行数 / 全年预算数, at the printed precision."""
    header = result.header
    printed_text = header.get("budget_rate", "")
    printed = _number(printed_text)
    full, executed = _number(header.get("budget_full")), _number(header.get("budget_executed"))
    if printed is None or full is None or executed is None or full == 0:
        return None
    places = len(printed_text.rstrip("%").partition(".")[2])
    exact = CTX.multiply(CTX.divide(executed, full), HUNDRED)
    shown = exact.quantize(Decimal(1).scaleb(-places), context=CTX)
    if shown == printed:
        return None
    return Flag(
        "printed_rate_mismatch",
        f"公布的执行率 {printed_text} 与金额不符：全年执行数 / 全年预算数 = "
        f"{fmt(executed)} / {fmt(full)} = {fmt2(exact)}%，按 {fmt2(exact)}% 计分",
        False,
        "budget_execution",
    )


def _form_flags(result: ImportResult, card: Scorecard) -> list[Flag]:
    flags: list[Flag] = []
    if result.incomplete:
        flags.append(
            Flag(
                "form_incomplete",
                "表格不完整，不评定等级：" + "；".join(result.incomplete_reasons),
                True,
            )
        )
    for label, printed, inside in result.block_mismatches:
        flags.append(
            Flag(
                "block_weights_mismatch",
                f"“{label}”标注 {fmt(printed)} 分，其下各行分值合计 {fmt(inside)} 分",
                True,
            )
        )
    if result.declared_total is not None and result.declared_total != _HUNDRED_POINTS:
        flags.append(
            Flag(
                "total_not_100",
                f"本表总分为 {fmt(result.declared_total)} 分，不是百分制；优/良/中/差按百分制分档，须核对",
                True,
            )
        )
    if result.inferred_weights:
        names = {i.code: i.name for i in result.scheme.indicators}
        listed = "、".join(f"{names[c]} {fmt(w)}" for c, w in result.inferred_weights.items() if w)
        flags.append(
            Flag("weights_inferred", f"本表没有分值列，各行分值由分块总分推定：{listed}", False)
        )
    published = [(code, _number(text)) for code, text in result.published.items() if text]
    total = _number(result.published_total)
    if total is not None and published:
        rows_sum = sum((v for _c, v in published if v is not None), ZERO)
        if rows_sum != total:
            flags.append(
                Flag(
                    "printed_total_mismatch",
                    f"公布总分 {fmt(total)} 与公布的各行得分之和 {fmt(rows_sum)} 不一致",
                    False,
                )
            )
    if total is not None and not result.incomplete and total != card.total:
        flags.append(
            Flag(
                "published_total_differs",
                f"公布总分 {fmt(total)}，按规则重新计算为 {fmt2(card.total)}（相差 {fmt2(card.total - total)}）",
                False,
            )
        )
    return flags


def check_form(result: ImportResult) -> FormCheck:
    """Score an imported form and compare every published number with the computed one."""
    card = score(result.scheme, result.entries)
    row_flags: dict[str, list[Flag]] = {}
    for row in card.rows:
        reason = str(result.entries.get(row.code, {}).get("reason", ""))
        extra = _row_flags(row, result.published.get(row.code, ""), reason)
        if row.code == "budget_execution":
            rate = _rate_flag(result)
            if rate is not None:
                extra.append(rate)
        row_flags[row.code] = [*row.flags, *extra]
    form = [f for f in card.flags if f.indicator is None] + _form_flags(result, card)
    blocking = (
        card.blocking
        or any(f.blocking for fs in row_flags.values() for f in fs)
        or any(f.blocking for f in form)
    )
    return FormCheck(
        result, card, row_flags, form, blocking, None if result.incomplete else card.grade
    )
