"""Targets in real Chromium: a unit sets its project's targets from the indicator library and
submits them; the reviewer returns them with a reason, the unit fixes and resubmits, the
reviewer approves; the self-evaluation shows the project's own indicators; an adjustment
changes a target and the form shows both values. Screenshots at desktop and phone sizes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PROJECT = "政务服务人员业务能力培训"  # unit A's targets, a draft in the demo
SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


def _shots(page: Page, folder: Path, name: str) -> None:
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(SIZES["desktop"])


def test_targets_from_library_to_adjusted_form(
    page_as: Callable[[str], Page], screenshots: Path
) -> None:
    unit = page_as("unit_a")
    unit.goto("/targets/")
    unit.get_by_role("link", name=PROJECT).click()
    targets_url = unit.url
    assert re.search(r"/targets/\d+$", targets_url)
    # Replace the satisfaction row by the library's own.
    unit.get_by_label("删除第6行").click()
    expect(unit.locator('tr[data-testid="row-6"]')).to_have_count(0)
    unit.locator('select[data-testid="library-pick"]').select_option(label="参训人员满意度（%）")
    unit.get_by_role("button", name="加入").click()
    row = unit.locator('tr[data-testid="row-6"]')
    expect(row.locator('input[name="name[]"]')).to_have_value("参训人员满意度")
    expect(row).to_contain_text("来自指标库")
    # Saved without a weight: the page says so beside the row, and 满意度 is short.
    unit.get_by_role("button", name="保存").click()
    expect(unit.locator('[data-testid="problems-6"]')).to_contain_text("分值须大于0")
    row.locator('input[name="weight[]"]').fill("10")
    _shots(unit, screenshots, "20-targets-edit")
    unit.get_by_role("button", name="提交审核").click()
    expect(unit.locator('[data-testid="targets-state"]')).to_have_text("已提交（待审核）")

    reviewer = page_as("reviewer")
    reviewer.goto(targets_url)
    reviewer.fill("#review-reason", "培训考核合格率请按上年实际提高到96%")
    reviewer.get_by_role("button", name="退回修改").click()
    expect(reviewer.locator('[data-testid="targets-state"]')).to_have_text("已退回（待修改）")

    unit.goto(targets_url)
    expect(unit.locator('[data-testid="return-reason"]')).to_contain_text("提高到96%")
    unit.locator('tr[data-testid="row-2"] input[name="value[]"]').fill("96")
    unit.get_by_role("button", name="提交审核").click()
    expect(unit.locator('[data-testid="targets-state"]')).to_have_text("已提交（待审核）")

    reviewer.goto(targets_url)
    _shots(reviewer, screenshots, "21-targets-review")
    reviewer.get_by_role("button", name="审核通过").click()
    expect(reviewer.locator('[data-testid="targets-state"]')).to_have_text("已批复")

    # The self-evaluation is the project's own.
    unit.goto(targets_url)
    unit.get_by_role("button", name="开始自评").click()
    unit.wait_for_url(re.compile(r"/evaluations/\d+/edit$"))
    form_url = unit.url
    for text in ("培训人次", "培训考核合格率", "参训人员满意度", "≥96%", "立项依据充分性"):
        expect(unit.locator("main, body").first).to_contain_text(text)
    expect(unit.locator("body")).not_to_contain_text("保障全省13个设区市政务服务子站点稳定运行")

    # An adjustment (调整) with its reason; the approved version stays until it is approved.
    unit.goto(targets_url)
    unit.get_by_role("link", name="申请调整目标").click()
    unit.locator('tr[data-testid="row-2"] input[name="value[]"]').fill("90")
    unit.fill("#reason", "培训对象扩大到基层窗口人员，考核合格率目标相应调整")
    unit.get_by_role("button", name="提交调整").click()
    expect(unit.locator('[data-testid="targets-state"]')).to_have_text("调整已提交（待审核）")
    reviewer.goto(targets_url)
    reviewer.get_by_role("button", name="审核通过").click()
    expect(reviewer.locator('[data-testid="targets-state"]')).to_have_text("已批复")

    unit.goto(form_url)
    cell = unit.locator('[data-testid^="target-quality_"]').filter(has_text="调整")
    expect(cell).to_have_count(1)
    expect(cell).to_have_text(re.compile(r"^≥90%（\d{4}-\d{2}-\d{2} 调整，原 ≥96%）$"))
    _shots(unit, screenshots, "22-form-adjusted")
    unit.goto(targets_url.rstrip("/") + "/history")
    expect(unit.locator("body")).to_contain_text("培训考核合格率：≥96% → ≥90%")
    _shots(unit, screenshots, "23-targets-history")
