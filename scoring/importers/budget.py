"""The budget block: 年初预算数 / 全年预算数 / 全年执行数 (and every other spelling), the
scored total row, the 其中 breakdown rows (a repeated score counts once), 元 or 万元, and the
block's points: a 分值/权重 column, "(20分)" in the block label, or "得分(20分*执行率)"."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ..numbers import InputError, parse_decimal
from .cells import cell, is_number, value
from .columns import budget_row_kind, map_header
from .indicators import Builder

__all__ = ["find_budget_header", "read_budget"]

_POINTS = re.compile(r"(\d+(?:\.\d+)?)\s*分")


def find_budget_header(rows: list[list[str]], start: int, stop: int) -> tuple[int, dict[str, int]] | None:  # fmt: skip
    for index in range(start, stop):
        roles = map_header(rows[index], "budget")
        if "executed" in roles and ("full" in roles or "rate" in roles):
            return index, roles
    return None


def _block_points(cells: list[str], roles: dict[str, int]) -> Decimal | None:
    """ "(20分)" in the label cells or in the score header ("得分(20分*执行率)")."""
    first = min(roles.values())
    texts = [c for c in cells[:first] if c]
    if "score" in roles:
        texts.append(cells[roles["score"]])
    for text in texts:
        match = _POINTS.search(text)
        if match:
            return Decimal(match.group(1))
    return None


def read_budget(rows: list[list[str]], head: int, roles: dict[str, int], stop: int, header: dict[str, str], b: Builder, base: int) -> int:  # fmt: skip
    """Read the block under the header row ``head``; returns the index after its last row."""
    cells = rows[head]
    unit_cell = next((c for c in cells if "万元" in c or "元" in c), "")
    header["amount_unit"] = "万元" if "万元" in unit_cell else ("元" if unit_cell else "")
    points = _block_points(cells, roles)
    first_amount = min(roles.get(k, 99) for k in ("initial", "full", "executed"))
    total_row: list[str] | None = None
    total_line = 0
    index = head + 1
    while index < stop:
        row = rows[index]
        label = " ".join(c for c in row[:first_amount] if c)
        kind = budget_row_kind(label) if label else None
        amounts = [value(cell(row, roles[k])) for k in ("full", "executed") if k in roles]
        if kind is None and not (total_row is None and any(is_number(a) for a in amounts)):
            if label or any(row):
                break
            index += 1
            continue
        kind = kind or "total"
        key = "budget" if kind == "total" else kind
        for col in ("initial", "full", "executed", "rate"):
            if col in roles:
                header[f"{key}_{col}"] = cell(row, roles[col])
        if kind == "total" and total_row is None:
            total_row, total_line = row, base + index + 1
        elif kind != "total" and total_row is not None:
            repeated = [
                k
                for k in ("weight", "score")
                if k in roles and is_number(value(cell(row, roles[k])))
            ]
            if repeated:
                b.problem(
                    base + index + 1,
                    f"“{label}”是其中行，却重复填写了{'和'.join('分值' if k == 'weight' else '得分' for k in repeated)}，只计一次（按总额行计分）",
                )
        index += 1
    if total_row is None:
        b.problem(base + head + 1, "项目资金表中没有总额行，预算执行率不计分")
        return index
    _add_budget(total_row, roles, points, total_line, header, b)
    return index


def _add_budget(row: list[str], roles: dict[str, int], points: Decimal | None, line: int, header: dict[str, str], b: Builder) -> None:  # fmt: skip
    weight_text = value(cell(row, roles.get("weight", -1)))
    score_text = value(cell(row, roles.get("score", -1)))
    weight = points if points is not None else Decimal(10)
    if weight_text:
        try:
            weight = parse_decimal(weight_text)
        except InputError:
            b.problem(line, f"年度资金总额的分值“{weight_text}”无法识别，按 {weight} 分计")
    elif points is None:
        b.problem(line, "年度资金总额未填分值，按 10 分计")
    entry: dict[str, Any] = {"imported": True}
    full = value(header.get("budget_full", ""))
    executed = value(header.get("budget_executed", ""))
    initial = value(header.get("budget_initial", ""))
    if full or executed:
        entry["numerator"] = executed
        entry["denominator"] = full
    if initial:
        entry["initial"] = initial
    leaf = {
        "code": "budget_execution",
        "name": "年度资金总额",
        "weight": str(weight),
        "target": "100%",
        "rule": {
            "kind": "budget",
            "numerator_label": "全年执行数",
            "denominator_label": "全年预算数",
            "reason_below": "0.90",
        },
        "rule_text": "得分 = 分值 × 执行率（全年执行数 / 全年预算数），最高为分值",
    }
    header["budget_weight"] = str(weight)
    blocks, b.blocks = b.blocks, []
    b.add(line, ("预算执行", "预算执行率", "年度资金总额"), leaf, entry, score_text)
    b.blocks = blocks
