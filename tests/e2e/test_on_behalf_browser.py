"""代为上传 in real Chromium, at 1366×768 and on a 390×844 phone: the department asks for its
units' sheets as one ZIP, watches it being built (by `flask evaluations sheets-zip --queued`:
no worker runs here) and downloads it, fills two of them the way a user does in Excel (openpyxl opens,
types, saves), uploads both at once and reads a result per file; the unit's form then shows
the values, says who filled it, and the history names the upload (the notice to the unit
waits in the outbox here, no worker runs: tests/workflow/workbooks/test_upload_on_behalf.py).

Two fresh drafts of unit A are made first with `flask import-form` (the other browser tests
submit the demo's drafts). Screenshots go to var/screenshots/on-behalf-*.png.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, _bin

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
UNIT_A = "江苏省政务服务管理办公室（机关）"
SAMPLE = ROOT / "scoring" / "samples" / "jiangsu_2022_seed.tsv"
SEED = "政务服务信息系统建设维护和迭代升级"


def _cycle_id(env: dict[str, str]) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        cycle = conn.execute(
            sa.text(
                "SELECT e.cycle_id FROM evaluations e JOIN projects p ON p.id = e.project_id "
                # The demo's own (earlier browser tests may have added more of the project).
                "WHERE p.name = :name ORDER BY e.id LIMIT 1"
            ),
            {"name": SEED},
        ).scalar_one()
    engine.dispose()
    return int(cycle)


def _new_draft(env: dict[str, str], tmp: Path, project: str, cycle_id: int) -> int:
    """A draft of unit A for a project of its own, from the seed form (as an operator does)."""
    form = tmp / f"{project}.tsv"
    form.write_text(SAMPLE.read_text(encoding="utf-8").replace(SEED, project), encoding="utf-8")
    done = subprocess.run(
        [_bin("flask"), "--app", "wsgi", "import-form", str(form)]
        + ["--cycle", str(cycle_id), "--unit", UNIT_A],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"#(\d+)", done.stdout)
    assert match, done.stdout
    return int(match.group(1))


def _fill_like_a_user(data: bytes, path: Path, results: str) -> Path:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cells = json.loads(wb["_jixiao"]["B1"].value)["cells"]
    ws = wb["自评表"]
    ws[cells["filled_by"]] = "刘主任代填"
    ws[cells["phone"]] = "025-83330000"
    ws[cells["main_results"]] = results
    ws[cells["e-budget_execution_rate-numerator"]] = 912.5
    ws[cells["e-budget_execution_rate-denominator"]] = 1000
    wb.save(path)
    return path


def _no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


def _shot(page: Page, folder: Path, name: str) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=str(folder / f"on-behalf-{name}-{width}.png"), full_page=True)


def test_department_uploads_two_filled_sheets_for_its_unit(
    page_as: Callable[[str], Page], live_env: dict[str, str], tmp_path: Path, screenshots: Path
) -> None:
    cycle_id = _cycle_id(live_env)
    first = _new_draft(live_env, tmp_path, "代为上传演示项目甲", cycle_id)
    second = _new_draft(live_env, tmp_path, "代为上传演示项目乙", cycle_id)

    # --- the department asks for its units' sheets as one ZIP, built in the background ----
    reviewer = page_as("reviewer")
    reviewer.set_viewport_size(DESKTOP)
    reviewer.goto("/workbooks/")
    panel = reviewer.get_by_test_id("sheets-zip-panel")
    expect(panel).to_contain_text("选择评价任务后生成 ZIP")
    reviewer.get_by_label("评价任务").select_option(str(cycle_id))
    reviewer.get_by_test_id("zip").click()
    expect(reviewer.locator(".alert-success")).to_contain_text("已开始生成 ZIP")
    expect(panel.get_by_test_id("zip-state")).to_contain_text("排队中")
    expect(reviewer.get_by_test_id("zip")).to_have_count(0)  # no second request meanwhile
    for viewport in (DESKTOP, PHONE):
        reviewer.set_viewport_size(viewport)
        _no_sideways_scroll(reviewer)
        _shot(reviewer, screenshots, "zip-queued")
    reviewer.set_viewport_size(DESKTOP)
    # No worker runs in the browser tests: the command builds it with the worker's code.
    built = subprocess.run(
        [_bin("flask"), "--app", "wsgi", "evaluations", "sheets-zip", "--queued"],
        cwd=ROOT, env=live_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0 and "已生成 1 个 ZIP" in built.stdout, built.stdout + built.stderr
    # The page follows the job by itself (htmx) and offers the download.
    expect(reviewer.get_by_test_id("zip-download")).to_be_visible(timeout=10_000)
    expect(panel.get_by_test_id("zip-state")).to_contain_text("已生成")
    for viewport in (DESKTOP, PHONE):
        reviewer.set_viewport_size(viewport)
        _no_sideways_scroll(reviewer)
        _shot(reviewer, screenshots, "zip-ready")
    reviewer.set_viewport_size(DESKTOP)
    with reviewer.expect_download() as info:
        reviewer.get_by_test_id("zip-download").click()
    assert info.value.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    for name in archive.namelist():
        sheet = openpyxl.load_workbook(io.BytesIO(archive.read(name)))
        assert sheet["_jixiao"].sheet_state == "veryHidden", name
    members = {int(n.rsplit("-", 2)[-2]): n for n in archive.namelist()}
    assert first in members and second in members
    assert members[first].startswith(f"{UNIT_A}/")

    # --- filled in Excel, uploaded at once (with a copy of the first: outdated by then) ---
    one = _fill_like_a_user(archive.read(members[first]), tmp_path / "甲.xlsx", "甲项目已完成。")
    two = _fill_like_a_user(archive.read(members[second]), tmp_path / "乙.xlsx", "乙项目已完成。")
    wb = openpyxl.load_workbook(two)
    cells = json.loads(wb["_jixiao"]["B1"].value)["cells"]
    bad_cell = cells["e-budget_execution_rate-numerator"]
    wb["自评表"][bad_cell] = "九十"  # typed in words: named, the rest still saved
    wb.save(two)
    again = tmp_path / "甲-重复.xlsx"
    again.write_bytes(one.read_bytes())
    form = reviewer.get_by_test_id("on-behalf-form")
    form.locator("input[type=file]").set_input_files([str(one), str(two), str(again)])
    form.get_by_role("button", name="代为上传").click()
    results = reviewer.get_by_test_id("upload-results")
    expect(results).to_be_visible()
    rows = results.get_by_test_id("upload-result")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("甲.xlsx")
    expect(rows.nth(0)).to_contain_text("代为上传演示项目甲")
    expect(rows.nth(0)).to_contain_text(UNIT_A)
    expect(rows.nth(0)).to_contain_text("已保存到单位草稿；已通知填报单位")
    expect(rows.nth(1)).to_contain_text("代为上传演示项目乙")
    expect(rows.nth(1)).to_contain_text("部分保存")
    expect(rows.nth(1)).to_contain_text(f"{bad_cell} 实际支出资金：'九十' 不是数字")
    expect(rows.nth(2)).to_contain_text("甲-重复.xlsx")
    expect(rows.nth(2)).to_contain_text("未保存")
    expect(rows.nth(2)).to_contain_text("文件已过期")
    expect(reviewer.get_by_test_id("upload-summary")).to_contain_text(
        "共 3 个文件：2 个已保存（其中 1 个有单元格未保存），1 个未保存"
    )
    _no_sideways_scroll(reviewer)
    _shot(reviewer, screenshots, "results")
    reviewer.set_viewport_size(PHONE)
    expect(rows.first).to_be_visible()
    _no_sideways_scroll(reviewer)
    _shot(reviewer, screenshots, "results")

    # --- the unit's form shows the values, and who filled them ----------------------------
    unit = page_as("unit_a")
    unit.set_viewport_size(DESKTOP)
    unit.goto(f"/evaluations/{first}/edit")
    expect(unit.locator("#f-filled_by")).to_have_value("刘主任代填")
    expect(unit.locator("#f-main_results")).to_have_value("甲项目已完成。")
    expect(unit.locator("#f-phone")).to_have_value("025-83330000")
    banner = unit.get_by_test_id("on-behalf-banner")
    expect(banner).to_contain_text("陈静 代为上传 Excel 文件“甲.xlsx”")
    unit.goto(f"/evaluations/{first}")
    expect(unit.get_by_test_id("history")).to_contain_text("代为上传Excel（保存到草稿）")
    unit.set_viewport_size(PHONE)
    unit.goto(f"/evaluations/{second}/edit")
    expect(unit.locator("#f-main_results")).to_have_value("乙项目已完成。")
    expect(unit.get_by_test_id("on-behalf-banner")).to_be_visible()
    _no_sideways_scroll(unit)
