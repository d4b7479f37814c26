"""The whole path in real Chromium: a unit fills and submits the seed form, the reviewer
changes one score with a reason and approves, finance bulk-confirms two evaluations; every
main page is checked for what it should show and saved as a screenshot under
docs/screenshots/. Pages a role may not use answer 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SEED = "政务服务信息系统建设维护和迭代升级"
SEED_FILE = Path(__file__).resolve().parents[2] / "scoring" / "samples" / "jiangsu_2022_seed.tsv"
APPROVED_DEMO = "“互联网+监管”系统运维"  # already approved by the demo data


def _shot(page: Page, folder: Path, name: str, *, full_page: bool = True) -> None:
    # The long pages (the 40-row form, review and history) keep to the window: a full-page
    # PNG of them is close to 1 MB each in the repository.
    if not full_page:
        page.locator("body").focus()
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


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


def _evaluation_id(url: str) -> int:
    match = re.search(r"/(\d+)(?:/|$)", url)
    assert match, url
    return int(match.group(1))


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("unit_a", "/dashboard/"),
        ("unit_a", "/admin/"),
        ("unit_a", "/review/"),
        ("unit_a", "/finance/"),
        ("reviewer", "/finance/"),
        ("reviewer", "/admin/users"),
        ("finance", "/review/"),
        ("finance", "/admin/"),
        ("sysadmin", "/review/"),
        # 三员分立: no administrator opens a business page, nor another administrator's.
        ("auditor", "/finance/"),
        ("auditor", "/admin/"),
        ("secadmin", "/dashboard/"),
        ("sysadmin", "/audit/"),
    ],
)
def test_role_that_may_not_open_a_page_gets_404(
    page_as: Callable[[str], Page], username: str, url: str
) -> None:
    page = page_as(username)
    response = page.goto(url)
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("error-message")).to_contain_text("页面不存在")


def test_login_page_and_wrong_password(new_page: Callable[[], Page], screenshots: Path) -> None:
    page = new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("h1")).to_have_text("登录")
    _shot(page, screenshots, "01-login")
    page.fill("input[name=username]", "unit_a")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    expect(page.locator("input[name=username]")).to_have_value("unit_a")


def test_the_whole_path(page_as: Callable[[str], Page], screenshots: Path) -> None:
    # --- the unit fills the seed form and submits it, through the confirmation -------------
    unit = page_as("unit_a")
    csp = _csp_errors(unit)
    unit.goto("/")
    expect(unit.get_by_test_id("whoami")).to_contain_text("张晓")
    expect(unit.get_by_test_id("waiting")).to_contain_text(SEED)
    _shot(unit, screenshots, "02-unit-home")

    unit.goto("/evaluations/")
    unit.get_by_role("link", name=SEED).first.click()
    seed_id = _evaluation_id(unit.url)
    unit.goto(f"/evaluations/{seed_id}/edit")
    expect(unit.get_by_test_id("form-table")).to_be_visible()
    expect(unit.get_by_test_id("form-table")).to_contain_text("立项依据充分性")
    unit.fill("#f-filled_by", "张晓")
    unit.fill("#f-phone", "025-83331234")
    unit.fill("#f-unit_head", "王建国")
    _shot(unit, screenshots, "03-form", full_page=False)
    unit.get_by_role("button", name="保存并提交…").click()

    expect(unit).to_have_url(re.compile(rf"/evaluations/{seed_id}/submit$"))
    total = unit.get_by_test_id("total").inner_text()
    grade = unit.get_by_test_id("grade").inner_text()
    assert Decimal(total) >= 90 and grade == "优"
    _shot(unit, screenshots, "04-submit-confirm")
    unit.get_by_role("button", name="确认提交").click()
    expect(unit).to_have_url(re.compile(rf"/evaluations/{seed_id}$"))
    expect(unit.get_by_text("自评表已提交")).to_be_visible()
    expect(unit.get_by_test_id("self-total")).to_contain_text(total)
    assert csp == []

    # --- the reviewer starts review, changes one score with a reason, approves -------------
    reviewer = page_as("reviewer")
    reviewer.goto("/review/")
    queue = reviewer.get_by_test_id("review-queue")
    expect(queue).to_contain_text(SEED)
    _shot(reviewer, screenshots, "05-review-queue")
    queue.locator("tr", has_text=SEED).get_by_role("link", name="审核").click()
    reviewer.get_by_role("button", name="开始审核").click()
    score_input = reviewer.locator("input[name^='s-']").first
    expect(score_input).to_be_editable()
    code = (score_input.get_attribute("name") or "")[2:]
    before = Decimal(
        score_input.input_value() or reviewer.get_by_test_id(f"base-{code}").inner_text()
    )
    changed = before - Decimal("0.5")
    score_input.fill(str(changed))
    reviewer.fill(f"textarea[name='r-{code}']", "立项依据中缺少可行性研究报告，扣 0.5 分")
    _shot(reviewer, screenshots, "06-review", full_page=False)
    reviewer.get_by_test_id("stage-submit").click()
    # The confirmation page: the new total and grade, then 确认.
    expect(reviewer.get_by_test_id("confirm-total")).to_contain_text(
        f"{Decimal(total) - Decimal('0.5'):.2f}"
    )
    reviewer.get_by_test_id("confirm-fire").click()
    reviewer.goto(f"/evaluations/{seed_id}")
    expected_dept = Decimal(total) - Decimal("0.5")
    expect(reviewer.get_by_test_id("dept-total")).to_contain_text(f"{expected_dept:.2f}")

    # --- finance bulk-confirms two evaluations ---------------------------------------------
    finance = page_as("finance")
    finance.goto("/finance/")
    table = finance.get_by_test_id("finance-queue")
    expect(table).to_contain_text(SEED)
    _shot(finance, screenshots, "07-finance-queue")
    other_row = table.locator("tr", has_text=APPROVED_DEMO)
    other_id = _evaluation_id(
        other_row.get_by_role("link", name=APPROVED_DEMO).get_attribute("href") or ""
    )
    table.locator(f"input[name=ids][value='{seed_id}']").check()
    table.locator(f"input[name=ids][value='{other_id}']").check()
    finance.get_by_role("button", name="批量确认所选…").click()

    bulk = finance.get_by_test_id("bulk-table")
    expect(bulk.locator("tbody tr")).to_have_count(2)
    expect(finance.get_by_test_id(f"bulk-item-{seed_id}")).to_contain_text(SEED)
    expect(finance.get_by_test_id(f"bulk-item-{seed_id}")).to_contain_text(f"{expected_dept:.2f}")
    expect(finance.get_by_test_id(f"bulk-item-{other_id}")).to_contain_text(APPROVED_DEMO)
    _shot(finance, screenshots, "08-bulk-confirm")
    finance.get_by_role("button", name="确认这 2 份").click()
    expect(finance.get_by_test_id("bulk-summary")).to_contain_text("成功 2 份，未成功 0 份")
    _shot(finance, screenshots, "09-bulk-result")

    # --- the history shows every step, with the changed score and its reason ---------------
    finance.goto(f"/evaluations/{seed_id}")
    history = finance.get_by_test_id("history")
    for who in ("张晓", "陈静", "孙丽"):
        expect(history).to_contain_text(who)
    expect(history).to_contain_text("立项依据中缺少可行性研究报告")
    expect(finance.get_by_test_id("final-total")).to_contain_text(f"{expected_dept:.2f}")
    _shot(finance, screenshots, "10-history", full_page=False)

    # --- the dashboard now counts them as confirmed ----------------------------------------
    finance.goto("/dashboard/")
    expect(finance.get_by_test_id("count-confirmed")).to_contain_text("3")
    expect(finance.get_by_test_id("grade-chart")).to_be_visible()
    expect(finance.get_by_test_id("grade-table")).to_contain_text("江苏省政务服务管理办公室")
    _shot(finance, screenshots, "11-dashboard")


def test_dashboard_of_a_reviewer_and_its_export(page_as: Callable[[str], Page]) -> None:
    page = page_as("reviewer_2")
    csp = _csp_errors(page)
    page.goto("/dashboard/")
    expect(page.get_by_test_id("dashboard-scope")).to_contain_text("江苏省数据局")
    expect(page.get_by_test_id("grade-table")).not_to_contain_text("江苏省政务服务管理办公室")
    with page.expect_download() as info:
        page.get_by_test_id("export-xlsx").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    assert csp == []


def test_admin_pages(page_as: Callable[[str], Page], screenshots: Path) -> None:
    page = page_as("sysadmin")
    csp = _csp_errors(page)
    page.goto("/admin/")
    expect(page.get_by_test_id("admin-overview")).to_contain_text("主管部门")
    _shot(page, screenshots, "12-admin")

    page.goto("/admin/users")
    # A bad input keeps what was typed and says why next to the field.
    form = page.get_by_test_id("user-form")
    form.get_by_label("用户名").fill("new_staff")
    form.get_by_label("姓名").fill("新同事")
    form.get_by_label("电子邮箱").fill("不是邮箱")
    form.get_by_label("初始密码").fill("short")
    form.get_by_role("button", name="创建").click()
    expect(page.get_by_test_id("error-email")).to_have_text("电子邮箱格式不正确")
    expect(page.get_by_test_id("error-password")).to_have_text("密码至少 10 个字符")
    expect(page.get_by_test_id("user-form").get_by_label("姓名")).to_have_value("新同事")
    _shot(page, screenshots, "13-admin-users")

    page.goto("/admin/orgs")
    expect(page.get_by_test_id("org-tree")).to_contain_text("江苏省大数据管理中心")
    page.goto("/admin/cycles")
    expect(page.get_by_test_id("cycle-table")).to_contain_text("2022年度省级项目支出绩效自评")
    page.goto("/admin/schemes")
    expect(page.get_by_test_id("scheme-table")).to_contain_text("jiangsu-2022")

    # Import a filled form into a cycle and a unit; its problem list is shown.
    page.goto("/admin/import")
    form = page.get_by_test_id("import-form")
    form.locator("input[type=file]").set_input_files(str(SEED_FILE))
    form.get_by_label("预算单位").select_option(label="江苏省大数据管理中心")
    form.get_by_role("button", name="导入").click()
    expect(page.get_by_test_id("import-done")).to_contain_text(SEED)
    expect(page.get_by_role("heading", name=re.compile("发现的问题"))).to_be_visible()
    _shot(page, screenshots, "14-admin-import")
    assert csp == []


def test_auditor_reads_and_exports_the_logs(
    page_as: Callable[[str], Page], screenshots: Path
) -> None:
    # Something to find: a unit user refused an administrator's page.
    refused = page_as("unit_b")
    response = refused.goto("/admin/users")
    assert response is not None and response.status == 404
    page = page_as("auditor")
    csp = _csp_errors(page)
    page.goto("/")
    page.get_by_role("link", name="安全审计").click()
    filters = page.get_by_test_id("audit-filters")
    filters.get_by_label("用户名").fill("unit_b")
    filters.get_by_label("结果").select_option(label="拒绝")
    filters.get_by_role("button", name="查询").click()
    expect(page.get_by_test_id("audit-rows")).to_contain_text("GET /admin/users")
    expect(page.get_by_test_id("audit-rows")).to_contain_text("拒绝访问")
    _shot(page, screenshots, "15-audit")
    with page.expect_download() as download:
        page.get_by_test_id("audit-export").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    # The export is itself in the log.
    page.goto("/audit/?kind=audit_export")
    expect(page.get_by_test_id("audit-rows")).to_contain_text("auditor")
    assert csp == []


# Every main page, opened in the browser by each role that may see it (no CSP error, no
# console error, its heading), and the seed evaluation by roles outside unit A (404).
PAGES_BY_ROLE = {
    "unit_a": ["/", "/evaluations/", "/notices/", "/password"],
    "unit_a_head": ["/", "/evaluations/"],
    "reviewer": ["/", "/review/", "/evaluations/", "/dashboard/", "/notices/"],
    "finance": ["/", "/finance/", "/evaluations/", "/dashboard/", "/notices/"],
    "sysadmin": ["/", "/evaluations/", "/dashboard/", "/admin/reminders"],
    "secadmin": ["/", "/admin/", "/admin/users", "/admin/admins"],
    "auditor": ["/", "/audit/", "/audit/?log=audit"],
}


@pytest.mark.parametrize("username", sorted(PAGES_BY_ROLE))
def test_main_pages_open_for_their_roles(page_as: Callable[[str], Page], username: str) -> None:
    page = page_as(username)
    csp = _csp_errors(page)
    for url in PAGES_BY_ROLE[username]:
        response = page.goto(url)
        assert response is not None and response.status == 200, (username, url)
        expect(page.locator("h1").first).to_be_visible()
    assert csp == []


@pytest.mark.parametrize("username", ["unit_b", "unit_c", "reviewer_2"])
def test_outsiders_get_404_for_the_seed_evaluation(
    page_as: Callable[[str], Page], username: str
) -> None:
    insider = page_as("unit_a")
    insider.goto("/evaluations/")
    insider.get_by_role("link", name=SEED).first.click()
    seed_id = _evaluation_id(insider.url)
    page = page_as(username)
    for url in (
        f"/evaluations/{seed_id}",
        f"/evaluations/{seed_id}/edit",
        f"/evaluations/{seed_id}/pdf",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 404, (username, url)
