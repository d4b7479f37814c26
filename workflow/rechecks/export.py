"""The deviation report and the budget advice as .xlsx (cells that look like formulas are
written as text, as the dashboard's export does)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from workflow.dashboard.export import neutralise
from workflow.rechecks.budget import AdviceRow
from workflow.rechecks.report import GRADES, Report


def _sheet(wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    ws = wb.create_sheet(title)
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([neutralise(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(50, len(name) * 2 + 6))
    ws.freeze_panes = "A2"


def _save(wb: Workbook) -> bytes:
    del wb[wb.sheetnames[0]]
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def report_workbook(batch_name: str, report: Report) -> bytes:
    wb = Workbook()
    _sheet(
        wb,
        "概况",
        ("批次", "已完成复核", "平均偏差|Δ|", "等级变化", "等级变化占比"),
        [
            (
                batch_name,
                report.items,
                report.mean_abs_delta,
                report.changed,
                report.changed_share,
            )
        ],
    )
    _sheet(
        wb,
        "等级矩阵",
        ("自评等级＼复核等级", *GRADES),
        [(g, *counts) for g, counts in report.matrix],
    )
    _sheet(
        wb,
        "单位偏差",
        ("单位", "复核份数", "平均偏差（自评−复核）", "平均|Δ|"),
        [(u.name, u.count, u.mean_delta, u.mean_abs) for u in report.units],
    )
    _sheet(
        wb,
        "指标偏差",
        ("指标", "复核份数", "平均偏差（自评−复核）", "平均|Δ|"),
        [(u.name, u.count, u.mean_delta, u.mean_abs) for u in report.indicators],
    )
    _sheet(
        wb,
        "明细",
        ("单位", "项目", "自评得分", "自评等级", "复核得分", "复核等级", "偏差"),
        [
            (
                d.unit,
                d.project,
                d.self_total,
                d.self_grade,
                d.recheck_total,
                d.recheck_grade,
                d.self_total - d.recheck_total,
            )
            for d in report.lines
        ],
    )
    return _save(wb)


def advice_workbook(rows: list[AdviceRow]) -> bytes:
    wb = Workbook()
    _sheet(
        wb,
        "预算安排建议",
        (
            "项目名称",
            "预算单位",
            "主管部门",
            "全年预算数",
            "最终得分",
            "最终等级",
            "等级来源",
            "预算建议",
            "建议安排数",
            "默认建议",
            "调整理由",
        ),
        [
            (
                r.project,
                r.unit,
                r.department,
                r.budget,
                r.total,
                r.grade or "",
                r.source,
                r.text,
                r.suggested,
                r.default_text,
                r.reason,
            )
            for r in rows
        ],
    )
    return _save(wb)
