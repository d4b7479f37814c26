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

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from workflow.dashboard.chart import SERIES
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


def _sheet(wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    ws = wb.create_sheet(title)
    ws.append([neutralise(h) for h in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([neutralise(v) for v in row])
        # openpyxl guesses a formula from a leading "="; the apostrophe above already
        # prevents that, and data_type "s" makes the intent explicit.
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(50, len(name) * 2 + 4))
    ws.freeze_panes = "A2"


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
            ("统计日期", today.isoformat()),
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
        ["编号", "主管部门", "预算单位", "项目", "状态", "截止日期", "逾期天数"],
        [
            (
                r.evaluation_id,
                r.department,
                r.unit,
                r.project,
                r.state_label,
                r.deadline.isoformat(),
                r.days_overdue,
            )
            for r in late
        ],
    )
    _sheet(
        wb,
        "各阶段平均天数",
        ["状态", "已完成停留次数", "平均天数（已完成）", "当前数量", "当前已停留平均天数"],
        [(d.label, d.completed, d.completed_avg, d.current, d.current_avg) for d in days],
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
                r.deadline.isoformat() if r.deadline else "",
            )
            for r in detail
        ],
    )
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
