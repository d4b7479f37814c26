"""The review trail in real Chromium (issue 13 §1 and §3), at 1366×768 and on a 390×844
phone: a return with an empty reason stays on the review page; the returned form says so on
the unit's home, list, detail and edit pages; the unit adds evidence and submits again; the
reviewer previews the evidence, sees the unit's 偏差原因 and narrative, types a score while
the total follows, approves through the confirmation page with an opinion; finance sees the
three columns with the reviewer's reasons and confirms through its own confirmation; the
unit reads the opinions; the print view prints. Roles that may not see a page get 404.

Screenshots go to var/screenshots/trail-*.png (E2E_SCREENSHOTS moves them).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PROJECT = "12345热线知识库建设"  # unit B, in review in the demo (department 1)
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
REASON = "佐证材料缺少验收报告，请补充后重新提交。"


def _png() -> bytes:
    """A real 8×8 PNG (a browser must be able to show the preview)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xc0\x30\x30" * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _as(page_as: Callable[[str], Page], username: str, viewport: dict[str, int]) -> Page:
    page = page_as(username)  # through the real login form and second factor
    page.set_viewport_size(viewport)
    return page


def _csp_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    return errors


def _shot(page: Page, folder: Path, name: str) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=str(folder / f"trail-{name}-{width}.png"), full_page=True)


def _no_sideways_scroll(page: Page) -> None:
    """The page itself never scrolls sideways (wide tables scroll inside their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


def _evaluation_id(page: Page) -> int:
    link = page.get_by_role("link", name=PROJECT).first.get_attribute("href") or ""
    match = re.search(r"/evaluations/(\d+)", link)
    assert match, link
    return int(match.group(1))


def test_the_review_trail(page_as: Callable[[str], Page], screenshots: Path) -> None:
    # --- the reviewer returns the form: an empty reason keeps the page and the scores -------
    reviewer = _as(page_as, "reviewer", DESKTOP)
    csp = _csp_errors(reviewer)
    reviewer.goto("/review/")
    ev_id = _evaluation_id(reviewer)
    reviewer.goto(f"/review/{ev_id}")
    expect(reviewer.get_by_test_id("stage-table")).to_be_visible()
    expect(reviewer.get_by_test_id("narrative")).to_contain_text("主要成效")
    reviewer.get_by_role("button", name="退回单位").click()
    expect(reviewer.get_by_test_id("stage-table")).to_be_visible()  # still the review page
    expect(reviewer.get_by_test_id("error-return")).to_contain_text("必须填写原因")
    reviewer.fill("#reason-return", REASON)
    reviewer.get_by_role("button", name="退回单位").click()
    expect(reviewer.get_by_role("alert").filter(has_text="已退回单位")).to_be_visible()

    # --- the unit sees it everywhere it looks, on a computer and on a phone -----------------
    for viewport in (DESKTOP, PHONE):
        unit = _as(page_as, "unit_b", viewport)
        unit_csp = _csp_errors(unit)
        unit.goto("/")
        expect(unit.get_by_test_id("returned-count")).to_contain_text("已退回 1")
        expect(unit.get_by_test_id("waiting")).to_contain_text(PROJECT)
        expect(unit.get_by_test_id("submitted")).to_contain_text("财政确认中")  # where each is
        _no_sideways_scroll(unit)
        _shot(unit, screenshots, "unit-home")
        unit.goto("/evaluations/")
        expect(unit.get_by_test_id("returned-badge").first).to_be_visible()
        _no_sideways_scroll(unit)
        unit.goto(f"/evaluations/{ev_id}")
        expect(unit.get_by_test_id("returned-banner")).to_contain_text(REASON)
        expect(unit.get_by_test_id("returned-banner")).to_contain_text("陈静")
        _no_sideways_scroll(unit)
        _shot(unit, screenshots, "unit-returned")
        unit.goto(f"/evaluations/{ev_id}/edit")
        expect(unit.get_by_test_id("returned-banner")).to_contain_text(REASON)
        assert unit_csp == []

    # --- the unit adds the missing evidence and submits again -------------------------------
    unit.set_viewport_size(DESKTOP)
    unit.goto(f"/evaluations/{ev_id}")
    unit.set_input_files(
        "#evidence-file", {"name": "验收现场.png", "mimeType": "image/png", "buffer": _png()}
    )
    unit.get_by_role("button", name="上传", exact=True).click()
    expect(unit.get_by_test_id("evidence-list")).to_contain_text("验收现场.png")
    unit.goto(f"/evaluations/{ev_id}/submit")
    unit.get_by_role("button", name="确认提交").click()
    expect(unit.get_by_role("alert").filter(has_text="自评表已提交")).to_be_visible()
    expect(unit.get_by_test_id("returned-banner")).to_have_count(0)

    # --- the reviewer: evidence preview, the unit's text, the live total, the confirmation --
    reviewer.goto(f"/evaluations/{ev_id}")
    reviewer.get_by_role("button", name="开始审核").click()
    expect(reviewer.get_by_role("alert").filter(has_text="已开始审核")).to_be_visible()
    reviewer.goto(f"/review/{ev_id}")
    expect(reviewer.get_by_test_id("stage-table")).to_be_visible()
    preview = reviewer.get_by_test_id("evidence-preview").first
    expect(preview).to_contain_text("验收现场.png")
    href = preview.get_attribute("href") or ""
    shown = reviewer.request.get(href)
    assert shown.status == 200 and shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline")
    with reviewer.context.expect_page() as new_tab:
        preview.click()
    image_tab = new_tab.value
    image_tab.wait_for_load_state()
    assert (
        image_tab.evaluate("document.images.length === 1 && document.images[0].naturalWidth") == 8
    )
    image_tab.close()
    # The outsider's browser gets nothing for the same address.
    outsider = _as(page_as, "reviewer_2", DESKTOP)
    assert outsider.request.get(href).status == 404

    live = reviewer.get_by_test_id("live-total-value")
    before = Decimal(live.inner_text())
    score = reviewer.locator("input[name='s-quantity_1']")
    base = Decimal(score.input_value())
    score.fill(str(base - 2))
    expect(live).to_have_text(f"{before - 2:.2f}")  # the server's total, as typed
    reviewer.fill("textarea[name='r-quantity_1']", "抽查发现 20% 条目未审核入库，扣 2 分")
    reviewer.fill("#opinion", "同意报送财政；知识库条目数按抽查结果扣 2 分。")
    _shot(reviewer, screenshots, "review")
    reviewer.set_viewport_size(PHONE)  # the same page on a phone: the table scrolls in its box
    _no_sideways_scroll(reviewer)
    _shot(reviewer, screenshots, "review")
    reviewer.get_by_test_id("stage-submit").click()
    expect(reviewer.get_by_test_id("confirm-total")).to_contain_text(f"{before - 2:.2f}")
    expect(reviewer.get_by_test_id("confirm-changes")).to_contain_text("扣 2 分")
    _no_sideways_scroll(reviewer)
    _shot(reviewer, screenshots, "review-confirm")
    reviewer.set_viewport_size(DESKTOP)
    _shot(reviewer, screenshots, "review-confirm")
    reviewer.get_by_test_id("confirm-back").click()  # back: everything typed is kept
    expect(reviewer.locator("input[name='s-quantity_1']")).to_have_value(str(base - 2))
    expect(reviewer.locator("#opinion")).to_have_value(
        "同意报送财政；知识库条目数按抽查结果扣 2 分。"
    )
    reviewer.get_by_test_id("stage-submit").click()
    reviewer.get_by_test_id("confirm-fire").click()
    expect(
        reviewer.get_by_role("alert").filter(has_text="审核通过，已报送财政确认")
    ).to_be_visible()
    assert csp == []

    # --- finance: three columns with the reviewer's reasons, its own confirmation -----------
    for viewport in (DESKTOP, PHONE):
        finance = _as(page_as, "finance", viewport)
        finance_csp = _csp_errors(finance)
        finance.goto(f"/finance/{ev_id}")
        expect(finance.get_by_test_id("self-quantity_1")).to_have_text(f"{base:.2f}")
        expect(finance.get_by_test_id("base-quantity_1")).to_have_text(f"{base - 2:.2f}")
        expect(finance.get_by_test_id("dept-reason-quantity_1")).to_contain_text("扣 2 分")
        expect(finance.get_by_test_id("opinions")).to_contain_text("同意报送财政")
        _no_sideways_scroll(finance)
        _shot(finance, screenshots, "finance")
        assert finance_csp == []
    finance.set_viewport_size(DESKTOP)
    finance.fill("#opinion", "确认定级。")
    finance.get_by_test_id("stage-submit").click()
    expect(finance.get_by_test_id("confirm-total")).to_contain_text(f"{before - 2:.2f}")
    finance.get_by_test_id("confirm-fire").click()
    expect(finance.get_by_role("alert").filter(has_text="已确认定级")).to_be_visible()

    # --- the unit reads both opinions; the print view prints the trail ---------------------
    unit.goto(f"/evaluations/{ev_id}")
    expect(unit.get_by_test_id("opinions")).to_contain_text("同意报送财政")
    expect(unit.get_by_test_id("opinions")).to_contain_text("确认定级。")
    expect(unit.get_by_test_id("history")).to_contain_text("审核意见：同意报送财政")
    for viewport in (DESKTOP, PHONE):
        unit.set_viewport_size(viewport)
        unit.goto(f"/evaluations/{ev_id}")
        _no_sideways_scroll(unit)
        _shot(unit, screenshots, "unit-detail")
        unit.goto(f"/evaluations/{ev_id}/print")
        expect(unit.locator(".paper-form")).to_contain_text("得分调整及理由")
        expect(unit.locator(".paper-form")).to_contain_text("填报单位（盖章）")
        expect(unit.get_by_role("button", name="打印")).to_be_visible()
        _shot(unit, screenshots, "print")
    unit.emulate_media(media="print")
    expect(unit.get_by_test_id("print-toolbar")).to_be_hidden()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
@pytest.mark.parametrize(
    ("username", "url"),
    [("reviewer", "/review/"), ("finance", "/finance/")],
)
def test_queues_export_at_both_sizes(
    page_as: Callable[[str], Page],
    screenshots: Path,
    viewport: dict[str, int],
    username: str,
    url: str,
) -> None:
    page = _as(page_as, username, viewport)
    csp = _csp_errors(page)
    page.goto(url)
    export = page.get_by_test_id("queue-export")
    expect(export).to_be_visible()
    with page.expect_download() as info:
        export.click()
    assert info.value.suggested_filename.startswith("绩效自评")
    assert info.value.suggested_filename.endswith(".xlsx")
    _no_sideways_scroll(page)
    _shot(page, screenshots, f"{username}-queue")
    assert csp == []


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("unit_a", "/review/{id}"),
        ("unit_a", "/evaluations/{id}/print"),
        ("finance", "/review/{id}"),
    ],
)
def test_roles_that_may_not_see_get_404(
    page_as: Callable[[str], Page], username: str, path: str
) -> None:
    reviewer = _as(page_as, "reviewer", DESKTOP)
    reviewer.goto("/evaluations/")
    ev_id = _evaluation_id(reviewer)
    page = _as(page_as, username, DESKTOP)
    response = page.goto(path.format(id=ev_id))
    assert response is not None and response.status == 404
