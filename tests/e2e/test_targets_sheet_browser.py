"""The 绩效目标申报表 round trip in real Chromium: a unit downloads its returned targets as
.xlsx, fills them in as in Excel (openpyxl), uploads a sheet with mistakes (each named by its
cell, everything typed kept), fixes it and submits; finance imports a budget-system JSON and
a bad sheet at once and gets a result per file. Screenshots at desktop and phone sizes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ROADS = "数据中心配套道路养护补助"  # unit_c's targets, returned in the demo
SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
ROWS = [
    ("产出", "数量指标", "道路养护里程", "≥", 120, "公里", 15),
    ("产出", "质量指标", "道路优良路率", "≥", 85, "%", 10),
    ("产出", "时效指标", "养护完成时间", "日期", "2022-11-30", None, 5),
    ("效益", "社会效益", "道路通行条件改善", "定性", "明显改善", None, 30),
    ("满意度", "服务对象满意度", "群众满意度", "≥", 90, "%", 10),
]


def _shots(page: Page, folder: Path, name: str) -> None:
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(SIZES["desktop"])


def _fill(path: Path, rows: list[tuple[object, ...]], out: Path) -> Path:
    wb = openpyxl.load_workbook(path)
    ws = wb["绩效目标申报表"]
    ws["B6"] = "完成数据中心配套道路年度养护120公里，优良路率85%以上。"
    for r in range(9, ws.max_row + 1):
        for letter in "ABCDEFGH":
            ws[f"{letter}{r}"] = None
    for offset, row in enumerate(rows):
        for letter, value in zip("ABCDEFG", row, strict=True):
            ws[f"{letter}{9 + offset}"] = value
    wb.save(out)
    return out


def test_unit_fills_its_targets_in_excel_and_finance_imports_many_files(
    page_as: Callable[[str], Page], screenshots: Path, tmp_path: Path
) -> None:
    unit = page_as("unit_c")
    unit.goto("/targets/")
    unit.get_by_role("link", name=ROADS).click()
    targets_url = unit.url
    with unit.expect_download() as info:
        unit.get_by_test_id("sheet-download").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "downloaded.xlsx"
    info.value.save_as(saved)

    bad = list(ROWS)
    bad[0] = ("产出", "数量指标", "道路养护里程", "≥", "一百二十", "公里", 15)
    bad[4] = ("满意度", "服务对象满意度", "群众满意度", "大约", 90, "%", "十")
    unit.set_input_files("#sheet-file", str(_fill(saved, bad, tmp_path / "bad.xlsx")))
    unit.get_by_test_id("sheet-upload").click()
    expect(unit.get_by_text("E9 指标值：“一百二十”不是数字（定量指标）")).to_be_visible()
    expect(unit.get_by_text("D13 指标性质：“大约”应为 ≥、≤、=、定性 或 日期")).to_be_visible()
    expect(unit.get_by_text("G13 分值：“十”不是数字")).to_be_visible()
    row = unit.locator('tr[data-testid="row-1"]')
    expect(row.locator('input[name="value[]"]')).to_have_value("一百二十")
    _shots(unit, screenshots, "22-targets-sheet-bad-cells")

    unit.set_input_files("#sheet-file", str(_fill(saved, ROWS, tmp_path / "good.xlsx")))
    unit.get_by_test_id("sheet-upload").click()
    expect(unit.get_by_text("已读入申报表并保存，请核对后提交")).to_be_visible()
    expect(unit.locator('tr[data-testid="row-5"] input[name="name[]"]')).to_have_value("群众满意度")
    unit.get_by_role("button", name="提交审核").click()
    expect(unit.locator('[data-testid="targets-state"]')).to_have_text("已提交（待审核）")
    assert unit.url == targets_url

    budget = {
        "projects": [
            {
                "project_code": "320000221000000077",
                "unit_code": "320003",
                "year": 2022,
                "project_name": "公共数据开放平台运营",
                "goal": "开放公共数据集，保障平台稳定运行。",
                "rows": [
                    {
                        "level1": "产出",
                        "level2": "数量指标",
                        "name": "开放数据集数量",
                        "nature": ">=",
                        "value": "500",
                        "unit": "个",
                        "weight": "30",
                    },
                    {
                        "level1": "效益",
                        "level2": "社会效益",
                        "name": "数据利用水平提升",
                        "nature": "定性",
                        "value": "明显提升",
                        "unit": "",
                        "weight": "30",
                    },
                    {
                        "level1": "满意度",
                        "level2": "服务对象满意度",
                        "name": "数据使用者满意度",
                        "nature": ">=",
                        "value": "90",
                        "unit": "%",
                        "weight": "10",
                    },
                ],
            }
        ]
    }
    export = tmp_path / "预算系统导出.json"
    export.write_text(json.dumps(budget, ensure_ascii=False), encoding="utf-8")
    finance = page_as("finance")
    finance.goto("/targets/import")
    finance.set_input_files("#file", [str(export), str(tmp_path / "bad.xlsx")])
    finance.get_by_role("button", name="导入").click()
    results = finance.get_by_test_id("import-results")
    expect(results.get_by_test_id("import-file")).to_have_count(2)
    expect(results).to_contain_text("已导入：公共数据开放平台运营")
    expect(results).to_contain_text("G13 分值：“十”不是数字")
    _shots(finance, screenshots, "23-targets-import-results")
    finance.goto("/targets/?state=approved")
    expect(finance.get_by_role("link", name="公共数据开放平台运营")).to_be_visible()
