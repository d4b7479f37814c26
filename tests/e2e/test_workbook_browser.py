"""The Excel round trip in real Chromium: a unit downloads its 自评表 .xlsx from the form
page, fills it the way a user does in Excel (openpyxl opens, types, saves), uploads it on
the same page and submits."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SEED = "政务服务信息系统建设维护和迭代升级"


def _target_of(ws: openpyxl.worksheet.worksheet.Worksheet, ref: str) -> str:
    """The 年度指标值 printed on the indicator block holding this cell (merged upwards)."""
    row = int(re.sub(r"\D", "", ref))
    while row > 10 and not ws[f"D{row}"].value:
        row -= 1
    return str(ws[f"D{row}"].value or "")


def _fill_like_a_user(path: Path) -> Path:
    wb = openpyxl.load_workbook(path)
    cells = json.loads(wb["_jixiao"]["B1"].value)["cells"]
    ws = wb["自评表"]
    for name, ref in cells.items():
        key = name.rsplit("-", 1)[-1]
        if key == "tier" or (key[:1] == "p" and key[1:].isdigit()):
            ws[ref] = "达成"
        elif key in ("numerator", "denominator"):
            ws[ref] = 500
        elif key == "actual":
            target = _target_of(ws, ref)
            plain = re.sub(r"^[≥≤=＞＜><]+", "", target)
            ws[ref] = plain if re.match(r"^\d", plain) else "达成预期目标"
        elif key in ("score", "na", "reason"):
            ws[ref] = None
    ws[cells["filled_by"]] = "刘洋"
    ws[cells["phone"]] = "025-83330000"
    ws[cells["unit_head"]] = "赵强"
    ws[cells["main_results"]] = "项目按计划完成，各项指标均已达成。"
    filled = path.with_name("filled.xlsx")
    out = io.BytesIO()
    wb.save(out)
    filled.write_bytes(out.getvalue())
    return filled


def test_unit_downloads_fills_uploads_and_submits(
    page_as: Callable[[str], Page], tmp_path: Path
) -> None:
    # A draft of unit A other than the seed (the whole-path test submits the seed).
    unit = page_as("unit_a")
    unit.goto("/evaluations/?state=draft")
    link = unit.get_by_test_id("evaluation-list").locator("tbody a").filter(has_not_text=SEED).first
    project = link.inner_text()
    link.click()
    evaluation_id = int(re.search(r"/evaluations/(\d+)", unit.url).group(1))  # type: ignore[union-attr]
    unit.goto(f"/evaluations/{evaluation_id}/edit")

    with unit.expect_download() as info:
        unit.get_by_test_id("workbook-download").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    assert project[:6] in download.suggested_filename
    saved = tmp_path / "downloaded.xlsx"
    download.save_as(saved)

    filled = _fill_like_a_user(saved)
    form = unit.get_by_test_id("workbook-upload")
    form.locator("input[type=file]").set_input_files(str(filled))
    form.get_by_role("button", name="上传Excel").click()
    expect(unit.get_by_text("已从 Excel 读取并保存到草稿")).to_be_visible()
    expect(unit.locator("#f-filled_by")).to_have_value("刘洋")
    expect(unit.locator("#f-main_results")).to_have_value("项目按计划完成，各项指标均已达成。")

    unit.get_by_role("button", name="保存并提交…").click()
    expect(unit).to_have_url(re.compile(rf"/evaluations/{evaluation_id}/submit$"))
    unit.get_by_role("button", name="确认提交").click()
    expect(unit).to_have_url(re.compile(rf"/evaluations/{evaluation_id}$"))
    expect(unit.get_by_text("自评表已提交")).to_be_visible()

    # The same file again is outdated now: the evaluation has moved on.
    unit.goto("/workbooks/")
    unit.get_by_test_id("files").set_input_files(str(filled))
    unit.get_by_role("button", name="上传").click()
    results = unit.get_by_test_id("upload-results")
    expect(results).to_contain_text("filled.xlsx")
    expect(results).to_contain_text("不能修改自评表")
