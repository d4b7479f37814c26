"""定性 (tier) rows: the tier fixes a band of the weight, [80%,100%], [60%,80%), [0,60%).

A manual score must fall inside the band; without one the top of the band is used.  The
tier comes from ``tier``, else from a label typed as the actual ("达成预期目标").  Quantity
and ratio rows whose input is a label are scored here too (with a prefix that says so).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..model import TIERS, tier_from_label
from .base import (
    Entry,
    Flag,
    Plan,
    RowScore,
    band_score,
    band_text,
    finish,
    missing_row,
    text,
    unfilled_row,
)

__all__ = ["resolve_tier", "score_tier", "tier_row"]


def resolve_tier(entry: Entry) -> tuple[str | None, str]:
    """The tier from "tier", else from a label typed as the actual; returns (tier, source)."""
    raw = text(entry, "tier")
    if raw:
        return tier_from_label(raw), raw
    actual = text(entry, "actual")
    if actual:
        return tier_from_label(actual), actual
    return None, ""


def score_tier(plan: Plan, entry: Entry) -> RowScore:
    tier, source = resolve_tier(entry)
    return tier_row(plan, entry, tier, source, {"tier": tier, "label": source}, [], "")


def _explain(prefix: str, tier: str, band: Callable[[], str]) -> str:
    return f"{prefix}{tier}（{TIERS[tier].text()}），{band()}"


def tier_row(
    plan: Plan,
    entry: Entry,
    tier: str | None,
    source: str,
    inputs: dict[str, Any],
    flags: list[Flag],
    prefix: str,
) -> RowScore:
    """The row of a tier (None: not recognised, or nothing typed when ``source`` is empty)."""
    if tier is None:
        if source:
            flags.append(
                Flag(
                    "invalid_tier",
                    f"“{source}”不是达成档次，请选择达成 / 部分达成 / 未达成",
                    True,
                    plan.code,
                )
            )
            return unfilled_row(plan, inputs, prefix + "无法识别达成档次", flags)
        return missing_row(plan, "请选择达成档次（达成 / 部分达成 / 未达成）", inputs, flags)
    edges = plan.bands[tier]
    value, explain = band_score(plan, entry, edges, tier, flags)
    if value is None:
        band = band_text(edges.low, edges.high, edges.inclusive)
        if not any(f.blocking for f in flags):
            return missing_row(plan, f"请在{band}内填写得分", inputs, flags)
        return unfilled_row(plan, inputs, prefix + band, flags, tier)
    return finish(plan, entry, value, inputs, partial(_explain, prefix, tier, explain), flags,
                  False, tier)  # fmt: skip
