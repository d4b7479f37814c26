"""A form people can work in, on a desk and on a phone, for everyone: in real Chromium at
1366x768 and 390x844.

- axe-core (installed from npm by `make`, served to the page by the test itself, never by
  the app) finds no serious or critical violation on any main page of any role;
- the unit's form: autosave, a lost session that loses nothing, Enter between cells, a tier
  that moves the suggested score and its label, the problem list linking to rows that never
  hide under the sticky bars, the 评价要点 opened by tap and keyboard, the published row that
  takes its requested reason without a new blocking error;
- phones: the collapsing navbar, the form as one card per indicator, the dashboard at 390 px.

This file runs before test_browser.py, which submits the seed: it only previews the seed
and saves nothing to it; what it saves goes to unit C's draft, which no other test uses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PASSWORD, ROOT

pytestmark = pytest.mark.e2e

SEED = "政务服务信息系统建设维护和迭代升级"
UNIT_C_DRAFT = "数据共享交换平台升级"
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desk": DESK, "phone": PHONE}
AXE = Path(os.environ.get("AXE_JS", ROOT / "tests" / "e2e" / "vendor" / "axe.min.js"))
AXE_URL = "/__test__/axe.min.js"  # answered by the test (page.route), not by the app


@pytest.fixture
def ids(live_env: dict[str, str]) -> dict[str, int]:
    engine = sa.create_engine(live_env["DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT p.name, e.id, e.state, t.id FROM evaluations e "
                "JOIN projects p ON p.id = e.project_id "
                "LEFT JOIN project_targets t ON t.project_id = p.id"
            )
        ).all()
    engine.dispose()
    found: dict[str, int] = {}
    for name, ev, state, targets in rows:
        found[name] = ev
        found[f"targets:{name}"] = targets
        found.setdefault(f"state:{state}", ev)
    return found


@pytest.fixture
def open_as(
    browser: Browser, live_server: str, live_totp: Callable[[str], str]
) -> Iterator[Callable[..., Page]]:
    """open_as("unit_a", "phone") -> a logged-in page in its own context at that size."""
    contexts: list[Any] = []

    def _open(username: str, size: str = "desk") -> Page:
        context = browser.new_context(
            base_url=live_server, locale="zh-CN", viewport=VIEWPORTS[size]
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        login(page, live_totp, username)
        return page

    yield _open
    for context in contexts:
        context.close()


def login(page: Page, totp: Callable[[str], str], username: str) -> None:
    """Through the real login form, on this page (and so in its context)."""
    if "/login" not in page.url:
        page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/verify" in url)
    page.fill("input[name=code]", totp(username))
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"))


# --- axe-core on every main page of every role ------------------------------------------------


def _pages(ids: dict[str, int]) -> dict[str, list[str]]:
    seed, dept = ids[SEED], ids["state:dept_review"]
    fin = ids["state:finance_confirmation"]
    return {
        "unit_a": [
            "/",
            "/evaluations/",
            f"/evaluations/{seed}",
            f"/evaluations/{seed}/edit",
            f"/evaluations/{seed}/submit",
            "/targets/",
            f"/targets/{ids['targets:' + SEED]}",
            f"/targets/{ids['targets:' + SEED]}/history",
            "/notices/",
            "/workbooks/",
            f"/evaluations/{seed}/print",
            "/rechecks/rectifications",
        ],
        "reviewer": [
            "/",
            "/review/",
            f"/review/{dept}",
            f"/evaluations/{dept}",
            "/targets/",
            "/dashboard/",
            "/notices/",
            "/workbooks/",  # the ZIP and the upload on the units' behalf
            "/rechecks/rectifications",
            "/rechecks/risks",
        ],
        "finance": [
            "/",
            "/finance/",
            f"/finance/{fin}",
            f"/evaluations/{fin}",
            "/dashboard/",
            "/rechecks/",
            "/rechecks/results",
            "/rechecks/rectifications",
            "/workbooks/",
            "/rechecks/risks",
        ],
        "sysadmin": [
            "/",
            "/admin/",
            "/admin/cycles",
            "/admin/orgs",
            "/admin/users",
            "/admin/schemes",
            "/admin/import",
            "/admin/reminders",
            "/targets/library",
            "/targets/import",
        ],
        "secadmin": ["/admin/", "/admin/users", "/admin/admins"],
        "auditor": ["/", "/audit/"],
        "expert": ["/", "/rechecks/"],
    }


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(url=AXE_URL)
    found: list[dict[str, Any]] = page.evaluate(
        """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"""
    )
    return found


@pytest.mark.parametrize("size", ["desk", "phone"])
@pytest.mark.parametrize(
    "username", ["unit_a", "reviewer", "finance", "sysadmin", "secadmin", "auditor", "expert"]
)
def test_no_serious_accessibility_violation(
    open_as: Callable[..., Page], ids: dict[str, int], username: str, size: str
) -> None:
    if not AXE.exists():
        pytest.fail(f"axe-core 未安装：{AXE}（make test 会从 npm 安装）")
    page = open_as(username, size)
    page.context.route(
        f"**{AXE_URL}",
        lambda route: route.fulfill(path=str(AXE), content_type="application/javascript"),
    )
    problems = {}
    for path in _pages(ids)[username]:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        found = axe_violations(page)
        if size == "phone":
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:  # wide tables scroll inside their own region
                found.append({"id": "page-wider-than-phone", "width": width})
        if found:
            problems[path] = found
    assert problems == {}


# --- the form ---------------------------------------------------------------------------------


def _box(page: Page, selector: str) -> dict[str, float]:
    box: dict[str, float] = page.evaluate(
        "s => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom}; }",
        selector,
    )
    return box


def _visible_between_bars(page: Page, selector: str) -> None:
    """The element is inside the window and under neither the sticky column heads nor the
    sticky summary bar at the bottom."""
    field = _box(page, selector)
    bar = _box(page, "[data-testid=form-bar]")
    heads = _box(page, "[data-testid=form-table] thead")
    top = max(0.0, heads["bottom"]) if heads["bottom"] > 0 else 0.0
    assert field["top"] >= top - 1, (field, heads)
    assert field["bottom"] <= bar["top"] + 1, (field, bar)


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_the_published_row_takes_its_reason_and_problems_link_to_rows(
    open_as: Callable[..., Page], ids: dict[str, int], screenshots: Path, size: str
) -> None:
    page = open_as("unit_a", size)
    page.goto(f"/evaluations/{ids[SEED]}/edit")
    budget = page.get_by_test_id("score-budget_execution_rate").locator("..")
    expect(budget).to_contain_text("不在“部分达成”对应区间")
    expect(budget).to_contain_text("须填写偏差原因分析及改进措施")
    # Following the warning: the reason box is there, the reason written...
    page.get_by_label("偏差原因分析及改进措施（预算执行率）").fill("部分合同尾款次年支付")
    expect(budget).not_to_contain_text("须填写偏差原因分析及改进措施")
    # ...and no blocking error appears: the published score stays a note.
    expect(budget.locator(".text-danger")).to_have_count(0)
    expect(page.locator("#summary")).to_contain_text("可以提交")

    # A wrong score: the problem list opens, names the row and links to it.
    score = page.get_by_label("得分（立项依据充分性）")
    score.fill("abc")
    problems = page.get_by_test_id("problem-list")
    expect(problems).to_have_attribute("open", "")
    link = problems.get_by_role("link", name=re.compile("立项依据充分性"))
    expect(link).to_be_visible()
    # Typing on elsewhere keeps the list open across the live updates.
    page.fill("#f-measures", "加强合同管理")
    page.wait_for_timeout(900)
    expect(page.get_by_test_id("problem-list")).to_have_attribute("open", "")
    page.evaluate("window.scrollTo({top: document.body.scrollHeight, behavior: 'instant'})")
    page.get_by_test_id("problem-list").get_by_role(
        "link", name=re.compile("立项依据充分性")
    ).click()
    expect(score).to_be_focused()
    _visible_between_bars(page, "#e-decision_basis-score")
    shot(page, screenshots, f"3{0 if size == 'desk' else 1}-form-problem-link-{size}")
    score.fill("2")
    expect(page.locator("#summary")).to_contain_text("可以提交")
    page.close()


def test_sticky_heads_keyboard_and_points(
    open_as: Callable[..., Page], ids: dict[str, int], screenshots: Path
) -> None:
    page = open_as("unit_a", "desk")
    page.goto(f"/evaluations/{ids[SEED]}/edit")
    page.evaluate("window.scrollTo({top: 2500, behavior: 'instant'})")
    page.wait_for_timeout(100)
    heads = _box(page, "[data-testid=form-table] thead")
    assert abs(heads["top"]) <= 1, heads  # the column heads stay at the top of the window
    bar = _box(page, "[data-testid=form-bar]")
    assert bar["bottom"] <= DESK["height"] + 1

    # The 评价要点 of a point: by tap (click) and by keyboard (Enter on its summary).
    first = page.get_by_test_id("point-decision_basis-0")
    first.locator("summary").click()
    expect(first.locator("div")).to_be_visible()
    second = page.get_by_test_id("point-decision_basis-1")
    second.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(second.locator("div")).to_be_visible()
    expect(second.locator("div")).not_to_be_empty()

    # Enter in a cell moves to the next cell; the form is not submitted.
    url = page.url
    page.get_by_label("实际完成值（资金到位率）").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label(re.compile(r"^得分（资金到位率）"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label(re.compile(r"^得分（资金到位率）"))).not_to_be_focused()
    assert page.evaluate("document.activeElement.id").startswith("e-")
    assert page.url == url
    shot(page, screenshots, "32-form-sticky-heads")
    page.close()


def test_tier_moves_the_score_and_the_label(
    open_as: Callable[..., Page], ids: dict[str, int]
) -> None:
    page = open_as("unit_c", "desk")
    page.goto(f"/evaluations/{ids[UNIT_C_DRAFT]}/edit")
    tier = page.locator("#e-timeliness_1-tier")
    actual = page.locator("#e-timeliness_1-actual")
    score = page.locator("#e-timeliness_1-score")
    shown = page.get_by_test_id("score-timeliness_1")
    tier.select_option("达成")
    score.fill("")
    actual.fill("达成预期目标")
    full = shown.inner_text()
    tier.select_option("部分达成")
    expect(actual).to_have_value("部分达成并具有一定效果")
    expect(shown).not_to_have_text(full)
    expect(score).to_have_attribute("placeholder", re.compile(r"按规则计 \d"))
    # A score the person typed is theirs: a later tier change leaves it.
    score.fill("1")
    tier.select_option("未达成")
    expect(score).to_have_value("1")
    expect(actual).to_have_value("未达成预期目标且效果较差")
    page.close()


def test_autosave_and_a_lost_session_lose_nothing(
    open_as: Callable[..., Page],
    ids: dict[str, int],
    live_totp: Callable[[str], str],
    screenshots: Path,
) -> None:
    page = open_as("unit_c", "desk")
    url = f"/evaluations/{ids[UNIT_C_DRAFT]}/edit"
    page.goto(url)
    page.fill("#f-measures", "自动保存的整改措施")
    page.evaluate("document.dispatchEvent(new Event('jixiao:autosave'))")
    expect(page.get_by_test_id("autosave-status")).to_contain_text("已自动保存")
    page.goto(url)
    expect(page.locator("#f-measures")).to_have_value("自动保存的整改措施")

    # The session ends (logged out in another tab, or expired): the next autosave says so,
    # and what was typed stays on the page and in this tab's storage.
    page.fill("#f-problems", "登录失效前写下的问题")
    page.context.clear_cookies()
    page.evaluate("document.dispatchEvent(new Event('jixiao:autosave'))")
    expect(page.get_by_test_id("session-lost")).to_be_visible()
    expect(page.get_by_test_id("session-lost")).to_be_in_viewport()  # where the person types
    expect(page.get_by_test_id("autosave-status")).to_contain_text("登录已失效")
    shot(page, screenshots, "33-form-session-lost")
    # Log in again in a new tab, come back, resume: the text reaches the server.
    other = page.context.new_page()
    login(other, live_totp, "unit_c")
    other.close()
    page.get_by_role("button", name="继续保存").click()
    expect(page.get_by_test_id("autosave-status")).to_contain_text("已自动保存")
    expect(page.get_by_test_id("session-lost")).to_be_hidden()
    page.goto(url)
    expect(page.locator("#f-problems")).to_have_value("登录失效前写下的问题")

    # Lost again, and this time the page is reloaded: the login comes first, then the page
    # offers what was typed in this tab.
    page.fill("#f-problems", "重新登录后恢复的内容")
    page.context.clear_cookies()
    page.reload()
    expect(page).to_have_url(re.compile("/login"))
    login(page, live_totp, "unit_c")
    if "/edit" not in page.url:
        page.goto(url)
    expect(page.locator("#f-problems")).to_have_value("登录失效前写下的问题")
    offer = page.get_by_test_id("restore-offer")
    expect(offer).to_be_visible()
    offer.get_by_role("button", name="恢复这些内容").click()
    expect(page.locator("#f-problems")).to_have_value("重新登录后恢复的内容")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_text("草稿已保存")).to_be_visible()
    expect(page.locator("#f-problems")).to_have_value("重新登录后恢复的内容")
    expect(page.get_by_test_id("restore-offer")).to_be_hidden()
    page.close()


def test_a_role_that_may_not_edit_gets_no_form(
    open_as: Callable[..., Page], ids: dict[str, int]
) -> None:
    draft = ids[UNIT_C_DRAFT]
    outsider = open_as("reviewer", "desk")  # department 1: unit C is not theirs
    response = outsider.goto(f"/evaluations/{draft}/edit")
    assert response is not None and response.status == 404
    token = outsider.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    saved = outsider.request.post(
        f"/evaluations/{draft}/autosave", form={"csrf_token": token, "measures": "x"}
    )
    assert saved.status == 404
    reviewer = open_as("reviewer_2", "phone")  # may see it, may not edit it
    reviewer.goto(f"/evaluations/{draft}/edit")
    expect(reviewer).to_have_url(re.compile(rf"/evaluations/{draft}$"))
    expect(reviewer.locator("#eval-form")).to_have_count(0)


# --- phones -----------------------------------------------------------------------------------


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


@pytest.mark.parametrize("username", ["unit_a", "reviewer", "finance", "sysadmin"])
def test_phone_navbar_collapses_and_counts(
    open_as: Callable[..., Page], screenshots: Path, username: str
) -> None:
    page = open_as(username, "phone")
    page.goto("/")
    menu = page.locator("#main-nav")
    expect(menu).to_be_hidden()
    page.get_by_test_id("nav-toggle").click()
    expect(menu).to_be_visible()
    expect(page.get_by_test_id("nav-toggle")).to_have_attribute("aria-expanded", "true")
    if username != "sysadmin":
        expect(menu.get_by_test_id("nav-count-waiting")).to_be_visible()
    _fits(page)
    if username == "unit_a":
        shot(page, screenshots, "35-nav-phone")
    # The skip link is the first stop of the keyboard and leads to the content.
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到主要内容")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))


def test_phone_form_is_one_card_per_indicator(
    open_as: Callable[..., Page], ids: dict[str, int], screenshots: Path
) -> None:
    page = open_as("unit_a", "phone")
    page.goto(f"/evaluations/{ids[SEED]}/edit")
    expect(page.locator("[data-testid=form-table] thead")).to_be_hidden()
    row = page.locator("#row-budget_execution_rate")
    assert row.evaluate("r => getComputedStyle(r).display") == "block"
    assert row.evaluate("r => r.getBoundingClientRect().width") <= PHONE["width"]
    _fits(page)
    row.scroll_into_view_if_needed()
    shot(page, screenshots, "34-form-card-phone")
    page.close()


@pytest.mark.parametrize("username", ["finance", "reviewer", "sysadmin"])
def test_phone_dashboard_fits(
    open_as: Callable[..., Page], screenshots: Path, username: str
) -> None:
    page = open_as(username, "phone")
    page.goto("/dashboard/")
    expect(page.get_by_test_id("grade-chart")).to_be_visible()
    _fits(page)
    if username == "finance":
        shot(page, screenshots, "36-dashboard-phone")
