"""Read published 自评表 of any template family from text, Excel, Word or PDF files.

Layers: :mod:`.files` (file type → sheets of rows of cell strings; :func:`read_workbook`
gives an .xlsx's sheets by name, hidden ones included, each cell found by its reference,
for a caller that knows where its cells are, such as an uploaded 自评表, 绩效目标申报表 or
指标库), :mod:`.columns` (header meaning → column role, synonyms kept as data in
``columns.yaml``), :mod:`.layout` (forms in a file, header rows, budget block, total row,
completeness), :mod:`.indicators` and :mod:`.budget` (rows), :mod:`.weights` (inferred
weights, the scheme) and :mod:`.compare` (published against computed: every difference a
flag with its numbers).

Two layout names are kept for the scheme (domain-rules.md §3 and §4): ``jiangsu`` (the
§2.9 framework with 评价要点及评分规则) and ``central`` (everything else: the columns are found
by meaning, whatever the province).  Problems are reported with their 1-based line number;
only an unreadable file raises :class:`FormReadError`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .base import FormReadError, ImportResult, Problem
from .budget import find_budget_header
from .cells import clean, coordinate, percent_number, reference
from .files import Sheet, decode_bytes, read_book, read_text, read_workbook
from .indicators import indicator_roles
from .layout import LAYOUTS, detect_layout, read_form, split_forms

__all__ = [
    "LAYOUTS",
    "FormReadError",
    "ImportResult",
    "Problem",
    "Sheet",
    "coordinate",
    "decode_bytes",
    "import_form",
    "import_forms",
    "percent_number",
    "read_book",
    "read_text",
    "read_workbook",
    "reference",
]


def _has_table(rows: list[list[str]]) -> bool:
    return any(
        indicator_roles(r) is not None or find_budget_header(rows, i, i + 1) is not None
        for i, r in enumerate(rows)
    )


def import_forms(
    source: str | Path, layout: str | None = None, *, data: bytes | None = None
) -> list[ImportResult]:
    """Every form of a file (path, or the text of a text form), in file order, never merged.
    With ``data``, the file's bytes (``source`` then only names it: a bulk import's files
    come from a ZIP or the database, not from a path)."""
    if layout is not None and layout not in LAYOUTS:
        raise FormReadError(f"未知的表格样式：{layout}（可用：{', '.join(LAYOUTS)}）")
    book = read_book(source, data)
    results: list[ImportResult] = []
    lines = 0
    for original in book.sheets:
        rows = [[clean(c) for c in r] for r in original]
        lines += sum(1 for r in rows if any(r))
        for start, stop in split_forms(rows):
            part = rows[start:stop]
            if not _has_table(part):
                continue
            result = read_form(part, start, layout or detect_layout(part))
            results.append(dataclasses.replace(result, cells=original, source_kind=book.kind))
    if not results:
        hint = ""
        if lines and all(sum(1 for c in r if c.strip()) <= 1 for s in book.sheets for r in s):
            hint = "；各行都只有一列，请用制表符分隔各列（从 Excel 复制粘贴即可）"
        raise FormReadError(
            f"没有找到指标表：文件中有 {lines} 行文字，但没有含“三级指标、年度指标值、"
            f"实际完成值、分值、得分”或“全年预算数、全年执行数”等列名的表头行{hint}"
        )
    count = len(results)
    return [dataclasses.replace(r, form_index=i, form_count=count) for i, r in enumerate(results)]


def import_form(path_or_text: str | Path, layout: str | None = None) -> ImportResult:
    """The first form of a file; :func:`import_forms` gives all of them."""
    return import_forms(path_or_text, layout)[0]
