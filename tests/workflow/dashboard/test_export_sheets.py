"""The Excel export as finance and departments use it (issue 13 §3): two-decimal scores,
real dates, widths, autofilter, frozen header, the indicator sheet, a Chinese file name
(RFC 5987), and the queues' export of their own states."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from pagehelpers import client_as

DEPT_1 = "江苏省政务服务管理办公室"


def _get(app, user: str, url: str):  # type: ignore[no-untyped-def]
    resp = client_as(app, user).get(url)
    assert resp.status_code == 200
    return resp, load_workbook(BytesIO(resp.data))


def test_formats_dates_widths_filter_and_frozen_header(app) -> None:
    resp, wb = _get(app, "finance", "/dashboard/export.xlsx?cycle=all")
    detail = wb["明细"]
    header = [c.value for c in detail[1]]
    assert detail.freeze_panes == "A2"
    assert detail.auto_filter.ref == f"A1:L{detail.max_row}"
    scored = [r for r in detail.iter_rows(min_row=2) if r[5].value is not None]
    assert scored
    for row in scored:
        assert isinstance(row[5].value, float) and row[5].number_format == "0.00"
    deadlines = [r[11] for r in detail.iter_rows(min_row=2) if r[11].value is not None]
    assert deadlines and all(isinstance(c.value, datetime | date) for c in deadlines)
    assert all(c.number_format == "yyyy-mm-dd" for c in deadlines)
    project_col = header.index("项目") + 1
    longest = max(len(str(r[project_col - 1].value)) for r in detail.iter_rows(min_row=2))
    width = detail.column_dimensions["D"].width
    assert width >= longest * 2  # Chinese characters count double
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="jixiao-')
    name = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert name.startswith("绩效自评统计-全部任务-") and name.endswith(".xlsx")


def test_indicator_sheet_has_every_indicator_with_its_reasons(app) -> None:
    _resp, wb = _get(app, "reviewer", "/dashboard/export.xlsx?cycle=all")
    sheet = wb["指标明细"]
    header = [c.value for c in sheet[1]]
    assert header[:8] == [
        "编号",
        "主管部门",
        "预算单位",
        "项目",
        "一级指标",
        "二级指标",
        "三级指标",
        "分值",
    ]
    assert "偏差原因分析及改进措施" in header and "审核调整理由" in header
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows and {r[1] for r in rows} == {DEPT_1}  # the reviewer's own department only
    detail_ids = {r[0] for r in wb["明细"].iter_rows(min_row=2, values_only=True)}
    assert {r[0] for r in rows} == detail_ids
    weights = {}
    for r in rows:
        weights[r[0]] = weights.get(r[0], 0) + r[7]
    assert all(round(total) == 100 for total in weights.values())
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref


@pytest.mark.parametrize(
    ("user", "queue", "states"),
    [
        ("reviewer", "/review/", {"已自评（待审核）", "主管部门审核中"}),
        ("finance", "/finance/", {"财政确认中"}),
    ],
)
def test_queue_export_button_gives_the_queue(app, user: str, queue: str, states: set[str]) -> None:
    client = client_as(app, user)
    html = client.get(queue).get_data(as_text=True)
    import re

    link = re.search(r'data-testid="queue-export" href="([^"]+)"', html)
    assert link
    resp = client.get(link.group(1).replace("&amp;", "&"))
    assert resp.status_code == 200
    wb = load_workbook(BytesIO(resp.data))
    got = {r[4] for r in wb["明细"].iter_rows(min_row=2, values_only=True)}
    assert got == states
    name = unquote(resp.headers["Content-Disposition"].split("filename*=UTF-8''", 1)[1])
    assert all(s in name for s in states)


@pytest.mark.parametrize("user", ["unit_a", "auditor", "secadmin"])
def test_units_and_other_administrators_get_no_export(app, user: str) -> None:
    assert client_as(app, user).get("/dashboard/export.xlsx?state=draft").status_code == 404
