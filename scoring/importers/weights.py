"""Weights: inferred from block totals when a template prints none, and the imported scheme.

The scheme keeps the form's declared total (its 总分 row's 分值, else 100) and its printed
block labels even when the rows do not add up to them: the engine then flags the form
(``weights_mismatch``, blocking) instead of the importer quietly using the rows' sum.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from ..model import Group, Scheme
from ..numbers import CTX, ONE, ZERO, InputError, parse_decimal, parse_quantity, q2
from ..schemes import SchemeError, scheme_from_dict
from .base import FormReadError
from .indicators import Builder, target_of

__all__ = ["build_scheme", "infer_weights"]


def _ratio(leaf: dict[str, Any], entry: dict[str, Any]) -> Decimal:
    """The share of the weight the rules give a row (1 when it cannot be computed)."""
    target = target_of(leaf)
    parsed = parse_quantity(str(entry.get("actual", "")))
    if target.value is None or parsed is None or leaf["rule"]["kind"] == "tier":
        return ONE
    actual = max(parsed[1], ZERO)
    if leaf["rule"]["kind"] == "reverse":
        if actual <= target.value:
            return ONE
        return CTX.divide(target.value, actual)
    if target.value <= 0 or actual >= target.value:
        return ONE
    return CTX.divide(actual, target.value)


def _published(text: str) -> Decimal | None:
    try:
        return parse_decimal(text) if text else None
    except InputError:
        return None


def infer_weights(b: Builder) -> dict[str, Decimal]:
    """Each unweighted row's weight from its block's printed total and the published scores.

    A row's weight is its published score divided by the share the rules give it (a met row:
    the score itself); what is left of the block total goes to the rows without a score, or,
    when all have one, to the single row whose weight it makes whole ("19.6" of a 98% row that
    is 20 × 98% when its 98% target is met).
    """
    if not b.unweighted:
        return {}
    inferred: dict[str, Decimal] = {}
    for block in b.blocks:
        codes = [c for c in block.codes if c in b.unweighted]
        if not codes:
            continue
        implied: dict[str, Decimal | None] = {}
        for code in codes:
            score = _published(b.published.get(code, ""))
            ratio = _ratio(b.leaf(code), b.entries[code])
            implied[code] = (
                None if score is None else q2(CTX.divide(score, ratio) if ratio > 0 else score)
            )
        known = sum((w for w in implied.values() if w is not None), ZERO)
        left = CTX.subtract(block.weight, known)
        unknown = [c for c, w in implied.items() if w is None]
        if unknown:
            share = q2(CTX.divide(left, Decimal(len(unknown))))
            for code in unknown:
                implied[code] = share
            last = unknown[-1]
            implied[last] = CTX.add(implied[last] or ZERO, left - share * len(unknown))
        elif left:
            whole = [
                c for c, w in implied.items()
                if w is not None and w != w.to_integral_value()
                and (w + left) == (w + left).to_integral_value() and w + left > 0
            ]  # fmt: skip
            if len(whole) == 1:
                implied[whole[0]] = CTX.add(implied[whole[0]] or ZERO, left)
        for code in codes:
            weight = implied[code] or ZERO
            inferred[code] = weight
            b.leaf(code)["weight"] = str(weight)
    orphans = [c for c in b.unweighted if c not in inferred]
    if orphans:
        raise FormReadError(
            "指标表没有分值（权重）列，也没有标注分块总分（如“年度绩效目标1(40分)”），"
            "无法确定各行分值；请补上分值列"
        )
    return inferred


def block_mismatches(b: Builder) -> list[tuple[str, Decimal, Decimal]]:
    out = []
    for block in b.blocks:
        inside = sum((Decimal(b.leaf(c)["weight"]) for c in block.codes), ZERO)
        if inside != block.weight:
            out.append((block.label or "分块", block.weight, inside))
    return out


def build_scheme(b: Builder, name: str, version: str, title: str, total: Decimal | None) -> Scheme:
    """The scheme of the rows read; ``total`` None means the sum of the rows."""
    tree: list[dict[str, Any]] = []
    for level1, subs in b.tree.items():
        tree.append(
            {
                "name": level1,
                "weight": None,
                "children": [
                    {"name": level2, "weight": None, "indicators": leaves}
                    for level2, leaves in subs.items()
                ],
            }
        )
    leaf_sum = sum(
        (
            Decimal(leaf["weight"])
            for subs in b.tree.values()
            for ls in subs.values()
            for leaf in ls
        ),
        ZERO,
    )
    data = {
        "name": name,
        "version": version,
        "title": title or "项目支出绩效自评表",
        "layout": b.layout,
        "description": "由导入的自评表推断",
        "total": str(leaf_sum),
        "na_policy": "rescale",
        "tree": tree,
    }
    try:
        scheme = scheme_from_dict(data)
    except SchemeError as exc:
        # Should not happen: every leaf is built valid.  Surface it as a read error rather
        # than a traceback, naming what is wrong.
        raise FormReadError("无法由表格推断指标体系：" + "；".join(exc.problems)) from None
    groups = [
        Group(g.path, b.group_weights.get(g.path[0]) if len(g.path) == 1 else None)
        for g in scheme.groups
    ]
    # The printed total and block labels are kept as printed: when the rows do not add up to
    # them the engine's weights_mismatch flag (blocking) says so with both numbers.
    declared = leaf_sum if total is None else total
    return dataclasses.replace(scheme, total=declared, groups=groups)
