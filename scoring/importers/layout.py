"""Where things are on a sheet: several forms per file, the header fields, the budget block,
the indicator table's header row (anywhere: titles, notes and other lines above it), the
总分 / 合计 row, the grade and the narratives, and whether the form is complete."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ..numbers import parse_decimal
from .base import FormReadError, ImportResult
from .budget import find_budget_header, read_budget
from .cells import cell, is_number, paragraphs, value
from .columns import header_base, map_header
from .indicators import (
    BLOCK_LABEL,
    Block,
    Builder,
    best_offset,
    block_label,
    indicator_roles,
    is_total_row,
    read_rows,
)
from .weights import block_mismatches, build_scheme, infer_weights

__all__ = ["LAYOUTS", "detect_layout", "read_form", "split_forms"]

LAYOUTS = ("jiangsu", "central")
_YEAR = re.compile(r"(\d{4})\s*年度?")
_LABEL_VALUE = re.compile(
    r"^(?P<label>填报单位|项目名称|主管部门|实施单位|项目实施单位|单位名称|填报日期)\s*[:：]\s*(?P<value>.*)$"
)
_HEADER_KEYS = {
    "填报单位": "unit",
    "单位名称": "unit",
    "实施单位": "unit",
    "项目实施单位": "unit",
    "项目名称": "project",
    "主管部门": "department",
    "填报日期": "date",
    "项目概况": "summary",
    "项目负责人": "project_leader",
    "联系电话": "phone",
    "报表编号": "report_code",
}
_NARRATIVES = ("主要成效", "存在问题", "整改措施")
_GRADE_LABELS = ("绩效等级", "自评等级", "评价等级", "等级")
_INSTRUCTION = re.compile(r"[（(]\s*\d+\s*字以内\s*[）)]")


def _title(filled: list[str]) -> bool:
    return (
        len(filled) == 1
        and len(filled[0]) <= 60
        and ("自评表" in filled[0] or "评价表" in filled[0])
    )


def split_forms(rows: list[list[str]]) -> list[tuple[int, int]]:
    """(start, stop) of each form: a new one starts at a title, a 项目名称 or a budget header
    once the current form's table has begun, or at an indicator header after a 总分 row."""
    starts = [0]
    table = closed = False
    for index, cells in enumerate(rows):
        filled = [c for c in cells if c]
        if not filled:
            continue
        budget = find_budget_header(rows, index, index + 1) is not None
        indicator = indicator_roles(cells) is not None
        opening = _title(filled) or budget or header_base(filled[0]) == "项目名称"
        if index > starts[-1] and ((opening and (table or closed)) or (indicator and closed)):
            starts.append(index)
            table = closed = False
        if budget or indicator:
            table = True
        if table and is_total_row(cells):
            closed = True
    return list(zip(starts, [*starts[1:], len(rows)], strict=True))


def detect_layout(rows: list[list[str]]) -> str:
    text = "\n".join("\t".join(r) for r in rows[:80])
    return "jiangsu" if "评价要点" in text or "自我评价表" in text else "central"


def _header_fields(rows: list[list[str]], stop: int) -> dict[str, str]:
    header: dict[str, str] = {}
    for cells in rows[:stop]:
        filled = [c for c in cells if c]
        if not filled:
            continue
        if "title" not in header and len(filled) == 1 and "表" in filled[0]:
            header["title"] = filled[0]
        for text in filled:
            year = _YEAR.search(text)
            if year and "year" not in header and len(text) <= 40:
                header["year"] = year.group(1)
        for index, text in enumerate(filled):
            match = _LABEL_VALUE.match(text)
            if match and match.group("value"):
                header.setdefault(_HEADER_KEYS[match.group("label")], match.group("value").strip())
                continue
            key = _HEADER_KEYS.get(header_base(text).rstrip("：:"))
            if key and index + 1 < len(filled):
                following = filled[index + 1]
                if _HEADER_KEYS.get(header_base(following).rstrip("：:")) is None:
                    header.setdefault(key, following)
    return header


def _read_goals(rows: list[list[str]], start: int, stop: int, header: dict[str, str]) -> None:
    for index in range(start, stop):
        cells = rows[index]
        expected = next(
            (i for i, c in enumerate(cells) if "预期目标" in c or "年初设定目标" in c), None
        )
        actual = next(
            (i for i, c in enumerate(cells) if "实际完成情况" in c or "完成情况综述" in c), None
        )
        if expected is None or actual is None:
            continue
        for row in rows[index + 1 : stop]:
            e, a = value(cell(row, expected)), value(cell(row, actual))
            if e or a:
                header["goal_expected"], header["goal_actual"] = e, a
                return
        return


def _footer(rows: list[list[str]], start: int, cols: dict[str, int]) -> tuple[Decimal | None, str | None, str | None, dict[str, str]]:  # fmt: skip
    """总分 / 绩效等级 / narratives from the total row on: (printed weight, total, grade, narratives)."""
    printed: Decimal | None = None
    total: str | None = None
    grade: str | None = None
    narratives: dict[str, str] = {}
    for index in range(start, len(rows)):
        cells = rows[index]
        filled = [c for c in cells if c]
        if not filled:
            continue
        if index == start:
            # The 分值 and 得分 columns (the row may be shifted like the rows above); an empty
            # 得分 is "not published", not the 100 printed beside it.
            offset = best_offset(cells, cols)
            weight_text = value(cell(cells, cols["weight"] + offset)) if "weight" in cols else ""
            score_text = value(cell(cells, cols["score"] + offset)) if "score" in cols else ""
            if is_number(weight_text) or is_number(score_text):
                printed = parse_decimal(weight_text) if is_number(weight_text) else None
                total = score_text if is_number(score_text) else None
            else:
                numbers = [c for c in filled[1:] if is_number(value(c))]
                if numbers:
                    total = numbers[-1]
                    printed = parse_decimal(numbers[0]) if len(numbers) > 1 else None
            continue
        label = filled[0]
        if any(label.startswith(word) for word in _GRADE_LABELS) and grade is None:
            grade = next(
                (c for c in filled[1:] if c in ("优", "良", "中", "差")),
                filled[1] if len(filled) > 1 else None,
            )
            continue
        for word in _NARRATIVES:
            if label.startswith(word):
                original = filled[1] if len(filled) > 1 else ""
                # Paragraphs one per line for display; the original (with its <p>) kept too.
                narratives[word] = "\n".join(paragraphs(original))
                narratives[word + "_original"] = original
    return printed, total, grade, narratives


def _indicator_columns(rows: list[list[str]], head: int, roles: dict[str, int]) -> dict[str, int]:
    cols = dict(roles)
    below = map_header(rows[head + 1], "indicator") if head + 1 < len(rows) else {}
    for level, default in (("level1", 0), ("level2", 1), ("level3", 2)):
        if level not in cols:
            cols[level] = below.get(level, default)
    return cols


def read_form(rows: list[list[str]], base: int, layout: str) -> ImportResult:
    """One form from its rows; ``base`` is the 0-based index of ``rows[0]`` in the sheet."""
    heads = [i for i, r in enumerate(rows) if indicator_roles(r) is not None]
    first = heads[0] if heads else len(rows)
    budget_head = find_budget_header(rows, 0, first)
    header = _header_fields(rows, min(first, budget_head[0] if budget_head else first))
    b = Builder(layout, year=header.get("year", ""))
    after_budget = 0
    if budget_head is not None:
        after_budget = read_budget(rows, budget_head[0], budget_head[1], first, header, b, base)
    elif layout == "central":
        b.problem(base + 1, "没有找到项目资金（预算执行）表，预算执行率不计分")
    _read_goals(rows, after_budget, first, header)
    reasons: list[str] = []
    cols: dict[str, Any] = {}
    stop = len(rows)
    if heads:
        cols = _indicator_columns(rows, first, indicator_roles(rows[first]) or {})
        if "weight" not in cols and "score" not in cols:
            raise FormReadError("指标表表头不完整：既没有“分值/权重”列，也没有“得分”列")
        for index in range(after_budget, first):
            label = block_label(rows[index])
            if label is not None:
                b.blocks.append(Block(label[0], label[1], base + index + 1))
        lead = BLOCK_LABEL.match(rows[first][0]) if rows[first] else None
        if lead and not b.blocks:
            b.blocks.append(
                Block(lead.group("name").strip(), Decimal(lead.group("weight")), base + first + 1)
            )
        stop = read_rows(rows, first + 1, cols, b, base)
    else:
        reasons.append("只有项目资金部分，没有绩效指标表（表格在此中断）")
    if heads and stop >= len(rows):
        reasons.append("表格在“总分”行之前中断，没有总分")
    if not b.entries:
        raise FormReadError("指标表中没有可读取的指标行")
    inferred = infer_weights(b)
    printed, published_total, grade, narratives = (
        _footer(rows, stop, cols) if stop < len(rows) else (None, None, None, {})
    )
    weighted = [c for c, e in b.entries.items() if not e.get("na") and c != "budget_execution"]
    if weighted and len(b.missing_actual) == len(weighted):
        unfilled = "空白表：各行都没有填写完成值" + (
            "和得分" if not any(b.published.get(c) for c in weighted) else ""
        )
        if any(_INSTRUCTION.search(c) for r in rows for c in r):
            unfilled += "，模板的填写说明仍留在答案栏中"
        reasons.append(unfilled)
    elif b.missing_actual:
        names = "、".join(b.leaf(c)["name"] for c in b.missing_actual)
        reasons.append(f"{len(b.missing_actual)} 行没有实际完成值：{names}")
    incomplete = bool(reasons)
    total = printed if printed is not None else (None if incomplete else Decimal(100))
    scheme = build_scheme(
        b, f"{layout}-import", header.get("year") or "imported", header.get("title", ""), total
    )
    return ImportResult(
        layout=layout,
        scheme=scheme,
        entries=b.entries,
        published=b.published,
        published_total=published_total,
        published_grade=grade,
        header=header,
        narratives=narratives,
        cells=[],
        problems=b.problems,
        source_rows=b.source_rows,
        incomplete=incomplete,
        incomplete_reasons=reasons,
        declared_total=printed,
        inferred_weights=inferred,
        block_mismatches=block_mismatches(b),
    )
