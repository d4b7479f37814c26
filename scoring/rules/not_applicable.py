"""Not applicable (不适用): which rows do not count, and what that does to the total.

A row is not applicable when its entry says ``na``, its actual is a marker ("/", "—", "-",
"*", "不适用" ...), its denominator is 0, or its weight is 0.  Such a row has no score.
The scheme's ``na_policy`` decides the total: "rescale" multiplies the sum of the rounded
applicable rows by total / applicable weight (按百分制折算), "exclude" leaves their weight
out, so the form's maximum is lower.  "Not filled" is different: it blocks submission.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..numbers import CTX, fmt, fmt2, q2
from .base import Flag, Plan, RowScore

__all__ = ["NA_MARKS", "apply_policy", "marker_row", "na_row"]

NA_MARKS = frozenset({"/", "／", "—", "——", "-", "--", "*", "－", "不适用", "N/A", "n/a"})


def na_row(plan: Plan, explanation: str, inputs: dict[str, Any], flags: list[Flag]) -> RowScore:
    return tuple.__new__(RowScore, (plan.code, plan.path, plan.weight, None, False, True,
                                    inputs, explanation, flags, False, None))  # fmt: skip


def marker_row(plan: Plan, actual_text: str, inputs: dict[str, Any], flags: list[Flag]) -> RowScore:
    """The row of an actual typed as a not-applicable marker (``actual_text in NA_MARKS``)."""
    flags.append(Flag("na_marker", f"实际完成值为“{actual_text}”，按不适用处理", False, plan.code))
    return na_row(plan, "不适用", inputs, flags)


def apply_policy(
    na_policy: str, total: Decimal, full: Decimal, raw: Decimal, applicable: Decimal
) -> tuple[Decimal, Flag | None]:
    """The form's total from the sum of its rounded applicable rows and their weight.

    ``full`` is the weight of every row, ``total`` the scheme's total.  Returns (total,
    the policy's flag or None when every row applies).
    """
    na_weight = CTX.subtract(full, applicable)
    if na_weight <= 0 or applicable == 0:
        return q2(raw), None
    if na_policy == "rescale":
        rescaled = q2(CTX.divide(CTX.multiply(raw, total), applicable))
        flag = Flag(
            "na_rescaled",
            f"不适用指标共 {fmt(na_weight)} 分，按适用指标 {fmt(applicable)} 分折算为 "
            f"{fmt(total)} 分制：{fmt2(raw)} × {fmt(total)} / {fmt(applicable)} = {fmt2(rescaled)}",
            False,
            None,
        )
        return min(rescaled, total), flag
    flag = Flag(
        "na_excluded",
        f"不适用指标共 {fmt(na_weight)} 分不计入，本表满分为 {fmt(applicable)} 分",
        False,
        None,
    )
    return q2(raw), flag
