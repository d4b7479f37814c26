"""Checklist rows (Jiangsu 决策/过程): each 评价要点 is rated 达成 / 部分达成 / 未达成.

The row's band is weight × Σ share_i × band_i; a manual score must fall inside it, else the
top of the band is used.  A single tier (``tier`` or a label as the actual) rates every point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from ..model import TIERS, tier_from_label
from ..numbers import CTX, HUNDRED, fmt, q2
from .base import (
    Band,
    Entry,
    Flag,
    Plan,
    RowScore,
    band,
    band_score,
    band_text,
    finish,
    missing_row,
    unfilled_row,
)
from .tier import resolve_tier, tier_row

__all__ = ["EDGE", "point_band", "point_parts", "score_checklist"]

# Band edges are products of shares like 1/3; trimming to 12 places removes the 28th-digit
# noise that would otherwise push a bound like 1.6 to 1.6000…01.
EDGE = Decimal("1e-12")
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_ZERO = Decimal(0)


def _mark(index: int) -> str:
    return _CIRCLED[index] if index < len(_CIRCLED) else str(index + 1)


def point_band(
    weight: Decimal,
    parts: tuple[Mapping[str, tuple[Decimal, Decimal, bool]], ...],
    tiers: list[str],
) -> Band:
    """The band of the row whose points have these tiers (CTX current).

    ``parts`` are the plan's per-point share × tier band products (see :func:`point_parts`).
    """
    low = high = _ZERO
    inclusive = True  # only the top tier includes its upper bound, so a row of top points
    for part, name in zip(parts, tiers, strict=True):
        part_low, part_high, part_inclusive = part[name]
        low += part_low
        high += part_high
        inclusive = inclusive and part_inclusive
    return band((weight * low).quantize(EDGE), (weight * high).quantize(EDGE), inclusive)


def point_parts(shares: list[Decimal]) -> tuple[Mapping[str, tuple[Decimal, Decimal, bool]], ...]:
    """Per point, tier -> (share × its low, share × its high, high inclusive): :func:`point_band`."""
    return tuple(
        {
            name: (
                CTX.multiply(share, tier.low),
                CTX.multiply(share, tier.high),
                tier.high_inclusive,
            )
            for name, tier in TIERS.items()
        }
        for share in shares
    )


def score_checklist(plan: Plan, entry: Entry) -> RowScore:
    flags: list[Flag] = []
    rule = plan.rule
    count = len(rule.points)
    raw_points = entry.get("points")
    tiers: list[str | None]
    inputs: dict[str, Any]
    if raw_points:
        labels = [str(p).strip() for p in raw_points]
        if len(labels) != count:
            flags.append(
                Flag("invalid_tier", f"评价要点共 {count} 项，填报了 {len(labels)} 项", True,
                     plan.code)
            )  # fmt: skip
            return unfilled_row(plan, {"points": labels}, "评价要点数量不符", flags)
        tiers = [tier_from_label(label) if label else None for label in labels]
        inputs = {"points": labels}
    else:
        tier, source = resolve_tier(entry)
        if tier is None:
            return tier_row(plan, entry, None, source, {"label": source}, flags, "")
        tiers = [tier] * count
        inputs = {"tier": tier, "label": source}
    if None in tiers:
        missing = "".join(_mark(i) for i, t in enumerate(tiers) if t is None)
        return missing_row(plan, f"评价要点{missing}未评档次", inputs, flags)
    rated: list[str] = tiers  # type: ignore[assignment]
    edges = point_band(plan.weight, plan.point_parts, rated)
    single = rated[0] if len(set(rated)) == 1 else None
    value, explain = band_score(plan, entry, edges, single or "各要点档次", flags)
    if value is None:
        low, high, inclusive, _top = edges
        detail = _detail(rule.shares, rated) + "，" + band_text(low, high, inclusive)
        if not any(f.blocking for f in flags):
            return missing_row(plan, f"请在{band_text(low, high, inclusive)}内填写得分", inputs,
                               flags)  # fmt: skip
        return unfilled_row(plan, inputs, detail, flags)
    return finish(plan, entry, value, inputs, partial(_explain, rule.shares, rated, explain),
                  flags, False, single)  # fmt: skip


def _explain(shares: list[Decimal], tiers: list[str], band: Callable[[], str]) -> str:
    return _detail(shares, tiers) + "，" + band()


def _detail(shares: list[Decimal], tiers: list[str]) -> str:
    count = len(tiers)
    share_text = f"各占{_share_text(shares[0], count)}" if len(set(shares)) == 1 else "按各自权重"
    if len(set(tiers)) == 1:
        return f"{count} 项评价要点{share_text}，均为{tiers[0]}"
    marks = "".join(f"{_mark(i)}{t}" for i, t in enumerate(tiers))
    return f"{count} 项评价要点{share_text}：{marks}"


def _share_text(share: Decimal, count: int) -> str:
    """20% for clean percentages, 1/3 when the share is one of ``count`` equal thirds etc."""
    # Explanations are built after score() returns, outside CTX: spell the context out.
    percent = CTX.multiply(share, HUNDRED)
    if percent == q2(percent):
        return f"{fmt(percent)}%"
    return f"1/{count}"
