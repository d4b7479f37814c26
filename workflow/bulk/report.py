"""The bulk import's report: one row per form (a file that could not be read is one row
saying why), as JSON and as .xlsx.

Columns (issue 12 §4): file, form, unit, project, read or why not, indicators, published
total, computed total, grade, flags; then what the import did with it (matched unit,
stored evaluation, or why not stored).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scoring.engine import Flag
from scoring.importers import ImportResult
from scoring.importers.compare import FormCheck

# (key, Chinese header) in report order; the JSON rows carry the same keys.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("file", "文件"),
    ("form", "第几张表"),
    ("unit", "填报单位"),
    ("project", "项目名称"),
    ("read", "读取结果"),
    ("indicators", "指标数"),
    ("published_total", "公布总分"),
    ("computed_total", "计算总分"),
    ("grade", "等级"),
    ("flags", "标记"),
    ("matched_unit", "匹配的单位"),
    ("stored", "保存结果"),
    ("evaluation_id", "评价表编号"),
)
NOT_GRADED = "不评定（表格不完整）"
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _flag(flag: Flag, where: str = "") -> dict[str, Any]:
    return {
        "code": flag.code,
        "message": flag.message,
        "blocking": flag.blocking,
        "indicator": where,
    }


def form_row(name: str, result: ImportResult, check: FormCheck) -> dict[str, Any]:
    """The report row of one form that was read."""
    card = check.card
    names = {row.code: row.path[-1] for row in card.rows}
    flags = [_flag(f) for f in check.flags]
    for code, row_flags in check.row_flags.items():
        flags.extend(_flag(f, names.get(code, code)) for f in row_flags)
    count = result.form_count or 1
    return {
        "file": name,
        "form": f"{result.form_index + 1}/{count}",
        "unit": result.header.get("unit", ""),
        "project": result.header.get("project", "") or result.header.get("title", ""),
        "read": "已读取" + ("（表格不完整）" if result.incomplete else ""),
        "ok": True,
        "incomplete": result.incomplete,
        "incomplete_reasons": list(result.incomplete_reasons),
        "indicators": len(card.rows),
        "published_total": result.published_total,
        "computed_total": str(card.total),
        "grade": check.grade,
        "flags": flags,
        "source": result.source_kind,
        "matched_unit": "",
        "stored": "",
        "evaluation_id": None,
    }


def unread_row(name: str, why: str) -> dict[str, Any]:
    """The one row of a file that could not be read, with the reader's message."""
    return {
        "file": name,
        "form": "",
        "unit": "",
        "project": "",
        "read": f"无法读取：{why}",
        "ok": False,
        "incomplete": False,
        "incomplete_reasons": [],
        "indicators": 0,
        "published_total": None,
        "computed_total": None,
        "grade": None,
        "flags": [],
        "source": "",
        "matched_unit": "",
        "stored": "",
        "evaluation_id": None,
    }


def flags_text(flags: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for f in flags:
        where = f"{f['indicator']}：" if f.get("indicator") else ""
        mark = "【阻止】" if f.get("blocking") else ""
        parts.append(f"{mark}{where}{f['message']}（{f['code']}）")
    return "；\n".join(parts)


def cell_text(row: Mapping[str, Any], key: str) -> Any:
    """A row's value as the .xlsx and the page show it."""
    value = row.get(key)
    if key == "flags":
        return flags_text(value or [])
    if key == "grade":
        if row.get("ok") and value is None:
            return NOT_GRADED
        return value or ""
    if value is None:
        return ""
    return value


def unmatched_units(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The units named by forms that matched no organisation: name and how many forms."""
    counts: dict[str, int] = {}
    for row in rows:
        if row.get("unmatched"):
            name = row.get("unit") or "（表中未写填报单位）"
            counts[name] = counts.get(name, 0) + 1
    return [{"unit": k, "forms": v} for k, v in sorted(counts.items())]


def report_json(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(
        {"import": dict(summary), "forms": list(rows), "unmatched_units": unmatched_units(rows)},
        ensure_ascii=False,
        indent=2,
    )


def report_xlsx(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "导入结果"
    sheet.append([title for _key, title in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_safe(cell_text(row, key)) for key, _title in COLUMNS])
    widths = {"file": 36, "project": 30, "unit": 26, "read": 24, "flags": 70, "stored": 30}
    for index, (key, _title) in enumerate(COLUMNS, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = widths.get(key, 12)
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    missing = book.create_sheet("未匹配的单位")
    missing.append(["填报单位", "表数"])
    for item in unmatched_units(rows):
        missing.append([_safe(item["unit"]), item["forms"]])
    about = book.create_sheet("导入信息")
    for key, value in summary.items():
        about.append([key, _safe(value if isinstance(value, int | str) else json.dumps(value))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (a form's text is not trusted)."""
    if isinstance(value, str) and (
        value[:1] in ("=", "+", "@") or (value[:1] == "-" and not _NUMBER.fullmatch(value))
    ):
        return "'" + value
    return value
