"""结果应用 in real Chromium: the public bundle asked for on the results page and built in the
background (here by `flask rechecks public-bundle --queued`, the browser tests run no
worker), the page following its state by itself; the unit answering an evidence request
with files (a refused file keeps the text); the re-checker downloading them; finance moving
a 整改 item's owner and due date; the risk list. Screenshots at 1366×768 and 390×844."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, _bin
from tests.e2e.test_a11y_form_browser import AXE, AXE_URL, axe_violations

pytestmark = pytest.mark.e2e

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _shots(page: Page, folder: Path, name: str) -> None:
    """Both sizes, each checked by axe-core (no serious or critical violation) and for a
    page wider than the phone."""
    if not AXE.exists():
        pytest.fail(f"axe-core 未安装：{AXE}（make test 会从 npm 安装）")
    page.context.route(
        f"**{AXE_URL}",
        lambda route: route.fulfill(path=str(AXE), content_type="application/javascript"),
    )
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
        assert axe_violations(page) == [], (name, size)
        if size == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.set_viewport_size(SIZES["desktop"])


def _sql(env: dict[str, str], statement: str, **params: object) -> None:
    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)
    engine.dispose()


def test_the_public_bundle_is_built_in_the_background(
    page_as: Callable[[str], Page], screenshots: Path, live_env: dict[str, str], tmp_path: Path
) -> None:
    finance = page_as("finance")
    finance.goto("/rechecks/results")
    panel = finance.locator('[data-testid="public-bundle-panel"]')
    expect(panel).to_contain_text("尚未生成公开包")
    finance.get_by_test_id("public-bundle").click()
    expect(finance.locator(".alert-success")).to_contain_text("已开始生成公开包")
    expect(panel.locator('[data-testid="bundle-state"]')).to_contain_text("排队中")
    expect(finance.get_by_test_id("public-bundle")).to_have_count(0)
    _shots(finance, screenshots, "50-public-bundle-queued-finance")
    # What a worker in the middle of it looks like (the page polls every 2 s).
    _sql(live_env, "UPDATE public_bundles SET state = 'building', total = 12, done = 5")
    expect(panel.locator("progress")).to_be_visible(timeout=10_000)
    expect(panel).to_contain_text("已处理 5 / 12 份自评表")
    _shots(finance, screenshots, "51-public-bundle-building-finance")
    _sql(live_env, "UPDATE public_bundles SET state = 'queued', total = 0, done = 0")
    done = subprocess.run(
        [_bin("flask"), "--app", "wsgi", "rechecks", "public-bundle", "--queued"],
        cwd=ROOT, env=live_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "已生成 1 个公开包" in done.stdout, done.stdout + done.stderr
    # The page sees it by itself and offers the download.
    expect(finance.get_by_test_id("public-bundle-download")).to_be_visible(timeout=10_000)
    expect(panel.locator('[data-testid="bundle-state"]')).to_contain_text("已生成")
    _shots(finance, screenshots, "52-public-bundle-ready-finance")
    with finance.expect_download() as download:
        finance.get_by_test_id("public-bundle-download").click()
    assert download.value.suggested_filename.endswith("绩效自评公开包.zip")
    target = tmp_path / "bundle.zip"
    download.value.save_as(target)
    with zipfile.ZipFile(target) as zf:
        assert any(n.endswith(".pdf") for n in zf.namelist())
    # A failed build says so in Chinese, keeps the last bundle and may be asked again.
    _sql(
        live_env,
        "INSERT INTO public_bundles (cycle_id, requested_by_id, requested_at, state, total, "
        "done, forms, error) SELECT cycle_id, requested_by_id, CURRENT_TIMESTAMP, 'failed', 0, "
        "0, 0, '生成公开包时出错（OSError）' FROM public_bundles LIMIT 1",
    )
    finance.reload()
    expect(panel.locator('[data-testid="bundle-state"]')).to_contain_text("公开包生成失败")
    expect(finance.get_by_test_id("public-bundle-download")).to_contain_text("上一次生成")
    expect(finance.get_by_test_id("public-bundle")).to_have_text("重新生成公开包")
    _shots(finance, screenshots, "53-public-bundle-failed-finance")


def test_the_unit_answers_with_files_and_the_expert_downloads_them(
    page_as: Callable[[str], Page], screenshots: Path
) -> None:
    unit = page_as("unit_a")
    unit.goto("/evaluations/")
    unit.get_by_role("link", name="“互联网+监管”系统运维").first.click()
    request = unit.locator('[data-testid="evidence-request"]')
    expect(request).to_contain_text("验收报告")
    request.locator("textarea").fill("验收报告与满意度调查原始记录见附件。")
    # A file that is not what its name says: refused, the text stays.
    request.locator('input[type="file"]').set_input_files(
        [{"name": "验收报告.pdf", "mimeType": "application/pdf", "buffer": b"MZ not a pdf"}]
    )
    request.get_by_role("button", name="提交补充说明").click()
    expect(unit.locator('[data-testid="answer-error"]')).to_contain_text("文件内容与扩展名")
    expect(unit.locator("textarea")).to_have_value("验收报告与满意度调查原始记录见附件。")
    _shots(unit, screenshots, "54-answer-refused-unit")
    unit.locator('input[type="file"]').set_input_files(
        [
            {"name": "验收报告.pdf", "mimeType": "application/pdf", "buffer": PDF},
            {"name": "满意度调查.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ]
    )
    unit.get_by_role("button", name="提交补充说明").click()
    # (A confirmed form's page also shows its seal in a green alert.)
    expect(unit.get_by_role("alert").filter(has_text="补充说明已提交")).to_be_visible()
    answered = unit.locator('[data-testid="evidence-answered"]').last
    expect(answered.locator('[data-testid="answer-files"]')).to_contain_text("满意度调查.pdf")
    _shots(unit, screenshots, "55-answer-files-unit")

    expert = page_as("expert")
    expert.goto("/rechecks/")
    rows = expert.locator('[data-testid="recheck-items"] tbody tr').filter(
        has_text="“互联网+监管”系统运维"
    )
    rows.get_by_role("link", name="复核").first.click()
    expect(expert.get_by_role("link", name="验收报告.pdf")).to_be_visible()
    _shots(expert, screenshots, "56-answer-files-expert")
    with expert.expect_download() as download:
        expert.get_by_role("link", name="验收报告.pdf").click()
    assert download.value.suggested_filename == "验收报告.pdf"
    # The expert asks for more: the unit's page shows the request again (as the demo had it).
    expert.locator("#reason-request_evidence").fill("请补充验收报告的签字页。")
    expert.get_by_test_id("event-request_evidence").click()
    expect(expert.locator('[data-testid="recheck-state"]')).to_have_text("待单位补充材料")


def test_finance_moves_a_rectification_item(
    page_as: Callable[[str], Page], screenshots: Path, live_env: dict[str, str]
) -> None:
    _sql(
        live_env,
        "UPDATE evaluations SET problems = :p, measures = :m WHERE state = 'confirmed'",
        p="1. 绩效目标细化不足；2. 满意度调查样本偏少",
        m="1. 细化量化绩效指标；2. 扩大满意度调查样本",
    )
    finance = page_as("finance")
    finance.goto("/rechecks/results")
    finance.get_by_role("button", name="从“存在问题/整改措施”生成整改事项").click()
    finance.goto("/rechecks/rectifications")
    edit = finance.locator('[data-testid^="rectify-edit-"]').first
    _shots(finance, screenshots, "57-rectifications-finance")
    edit.click()
    finance.fill("#due_on", "2020-01-01")
    finance.fill("#reason", "单位申请延期，部门同意")
    finance.get_by_role("button", name="保存调整").click()
    expect(finance.locator("#due-error")).to_contain_text("整改期限不能早于今天")
    expect(finance.locator("#reason")).to_have_value("单位申请延期，部门同意")
    _shots(finance, screenshots, "58-rectification-edit-error-finance")
    finance.fill("#due_on", "2027-06-30")
    finance.get_by_role("button", name="保存调整").click()
    expect(finance.locator(".alert-success")).to_contain_text("整改事项已调整")
    expect(finance.locator('[data-testid="rectifications"]')).to_contain_text("2027-06-30")


def test_the_risk_list(page_as: Callable[[str], Page], screenshots: Path) -> None:
    reviewer = page_as("reviewer_2")
    reviewer.goto("/dashboard/")
    expect(reviewer.locator('[data-testid="dashboard-risks"]')).to_be_visible()
    finance = page_as("finance")
    finance.goto("/rechecks/risks")
    expect(finance.locator('[data-testid="risk-list"]')).to_be_visible()
    expect(finance.locator('[data-testid="risk-total"]')).to_contain_text("份已提交的评价表")
    _shots(finance, screenshots, "59-risk-list-finance")
