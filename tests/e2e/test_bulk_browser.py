"""The bulk import page in Chromium: finance uploads two published forms, the page shows the
queued import's progress bar, and when the worker has done the work the htmx poll swaps in
each form's result (no page reload, nothing blocked by the CSP); the report downloads."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / ".." / "shared" / "forms"

# What the bulk worker does (the live server runs no broker): the pending imports, in order.
RUN_WORKER = """
from sqlalchemy import select
from wsgi import app
from workflow.bulk.operations import run_bulk_import
from workflow.core.extensions import db
from workflow.models import BulkImport
with app.app_context():
    ids = list(db.session.scalars(select(BulkImport.id).where(BulkImport.status != "done")))
    db.session.rollback()
    for bulk_id in ids:
        run_bulk_import(bulk_id)
"""


def test_upload_progress_and_results(
    page_as: Callable[[str], Page], live_env: dict[str, str], screenshots: Path, tmp_path: Path
) -> None:
    page = page_as("finance")
    csp: list[str] = []
    page.on(
        "console",
        lambda msg: (
            csp.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.get_by_role("link", name="批量导入").click()
    form = page.get_by_test_id("bulk-form")
    form.locator("input[type=file]").set_input_files(
        [
            str(FORMS / "putuo_tiyu_2022_two_forms.txt"),
            str(FORMS / "huanggang_shuitu_2020_20point.txt"),
        ]
    )
    form.get_by_role("button", name="开始导入").click()
    progress = page.get_by_test_id("bulk-progress")
    expect(progress).to_contain_text("已处理 0 / 2 个文件")
    page.screenshot(path=str(screenshots / "30-bulk-import-queued.png"))
    done = subprocess.run(
        [sys.executable, "-c", RUN_WORKER], cwd=ROOT, env=live_env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results = page.get_by_test_id("bulk-results")
    expect(results).to_contain_text("98.62", timeout=15_000)
    expect(results).to_contain_text("不评定（表格不完整）")
    expect(page.get_by_test_id("bulk-done")).to_contain_text("2 个文件：读取 3 张表")
    page.screenshot(path=str(screenshots / "31-bulk-import-done.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("report-xlsx").click()
    target = tmp_path / "report.xlsx"
    download.value.save_as(target)
    assert target.read_bytes()[:2] == b"PK"
    assert csp == []
