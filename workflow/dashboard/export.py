"""The dashboard summary as an Excel workbook (openpyxl).

Text that a spreadsheet would read as a formula (starting with = + - @, or a tab/CR that
some programs strip first) is written with a leading apostrophe so that it stays text:
a project called "=HYPERLINK(...)" must never become a live link in the finance office.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from workflow.dashboard.chart import SERIES
from workflow.dashboard.indicators import IndicatorRow
from workflow.dashboard.queries import (
    DepartmentGrades,
    DetailRow,
    OverdueRow,
    StageDays,
    StateCount,
)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A cell value that a spreadsheet will show as written, never evaluate."""
    if isinstance(value, str):
        if value.startswith(FORMULA_PREFIXES):
            return "'" + value
        return value
    if isinstance(value, Decimal):
        return float(value)
    return value


def attachment(filename: str, fallback: str) -> str:
    """Content-Disposition for a Chinese file name: RFC 6266 with RFC 5987's filename*
    (UTF-8, percent-encoded) and a plain ASCII name for clients that know no better."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


SCORE_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"


def _width(value: Any) -> int:
    """Columns as wide as their text: a Chinese character takes two places."""
    if value is None:
        return 0
    if isinstance(value, date):
        return 10
    text = str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet(
    wb: Workbook,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    scores: Sequence[int] = (),
) -> None:
    """A sheet with a bold, frozen, filterable header; `scores` are the 0-based columns of
    scores and amounts (two decimals), dates are real dates, widths follow the text."""
    ws = wb.create_sheet(title)
    ws.append([neutralise(h) for h in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    widths = [_width(h) for h in header]
    for row in rows:
        ws.append([neutralise(v) for v in row])
        for i, cell in enumerate(ws[ws.max_row]):
            # openpyxl guesses a formula from a leading "="; the apostrophe above already
            # prevents that, and data_type "s" makes the intent explicit.
            if isinstance(cell.value, str):
                cell.data_type = "s"
            elif isinstance(row[i], date):
                cell.number_format = DATE_FORMAT
            elif i in scores and cell.value is not None:
                cell.number_format = SCORE_FORMAT
            widths[i] = max(widths[i], _width(row[i]))
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(8, min(60, width + 2))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(ws.max_row, 1)}"


def build_workbook(
    *,
    scope_label: str,
    cycle_label: str,
    today: date,
    counts: list[StateCount],
    grades: list[DepartmentGrades],
    late: list[OverdueRow],
    days: list[StageDays],
    detail: list[DetailRow],
    indicators: list[IndicatorRow] | None = None,
) -> bytes:
    wb = Workbook()
    default = wb.active
    if default is not None:
        wb.remove(default)
    _sheet(
        wb,
        "汇总",
        ["项目", "值"],
        [
            ("范围", scope_label),
            ("评价任务", cycle_label),
            ("统计日期", today),
            *((f"状态：{c.label}", c.count) for c in counts),
            ("合计", sum(c.count for c in counts)),
        ],
    )
    grade_names = [g for g, _ in SERIES]
    _sheet(
        wb,
        "等级分布",
        ["主管部门", *grade_names, "合计"],
        [(d.department, *(d.counts.get(g, 0) for g in grade_names), d.total) for d in grades],
    )
    _sheet(
        wb,
        "逾期",
        ["编号", "主管部门", "预算单位", "项目", "状态", "截止日期", "逾期", "逾期（文字）"],
        [
            (
                r.evaluation_id,
                r.department,
                r.unit,
                r.project,
                r.state_label,
                r.deadline,
                r.days_overdue,
                r.days_text,
            )
            for r in late
        ],
    )
    _sheet(
        wb,
        "各阶段平均天数",
        ["状态", "已完成停留次数", "平均天数（已完成）", "当前数量", "当前已停留平均天数"],
        [(d.label, d.completed, d.completed_avg, d.current, d.current_avg) for d in days],
        scores=(2, 4),
    )
    _sheet(
        wb,
        "明细",
        [
            "编号",
            "主管部门",
            "预算单位",
            "项目",
            "状态",
            "自评得分",
            "自评等级",
            "审核得分",
            "审核等级",
            "确认得分",
            "确认等级",
            "本阶段截止",
        ],
        [
            (
                r.evaluation_id,
                r.department,
                r.unit,
                r.project,
                r.state_label,
                r.self_total,
                r.self_grade,
                r.dept_total,
                r.dept_grade,
                r.final_total,
                r.final_grade,
                r.deadline,
            )
            for r in detail
        ],
        scores=(5, 7, 9),
    )
    if indicators is not None:
        _sheet(
            wb,
            "指标明细",
            [
                "编号",
                "主管部门",
                "预算单位",
                "项目",
                "一级指标",
                "二级指标",
                "三级指标",
                "分值",
                "自评得分",
                "审核得分",
                "审核调整理由",
                "确认得分",
                "确认调整理由",
                "偏差原因分析及改进措施",
            ],
            [
                (
                    r.evaluation_id,
                    r.department,
                    r.unit,
                    r.project,
                    r.level1,
                    r.level2,
                    r.name,
                    r.weight,
                    r.self_score if r.applicable else "不适用",
                    r.dept_score if r.applicable else "不适用",
                    r.dept_reason,
                    r.final_score if r.applicable else "不适用",
                    r.final_reason,
                    r.deviation,
                )
                for r in indicators
            ],
            scores=(7, 8, 9, 11),
        )
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
