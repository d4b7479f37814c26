"""The security pages walked in Chromium as their users meet them, at 1366×768 and at
390×844: a new account binds its second factor and changes the password it was given; five
wrong passwords lock it; the security administrator unlocks it and resets its password, and
the owner must change it; one administrator requests an administrator and another approves;
the audit administrator filters the logs and exports them. Screenshots go under var/."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PASSWORD, ROOT
from workflow.auth import totp

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": (1366, 768), "phone": (390, 844)}


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_page(browser: Browser, live_server: str, viewport: str) -> Iterator[Callable[[], Page]]:
    contexts = []
    width, height = VIEWPORTS[viewport]

    def _new() -> Page:
        context = browser.new_context(
            base_url=live_server,
            locale="zh-CN",
            viewport={"width": width, "height": height},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def shot(screenshots: Path, viewport: str) -> Callable[[Page, str], None]:
    def _shot(page: Page, name: str) -> None:
        page.screenshot(path=str(screenshots / f"sec-{name}-{viewport}.png"), full_page=True)

    return _shot


def _flask(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _password_step(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _sign_in(page: Page, live_totp: Callable[[str], str], username: str, password: str) -> None:
    _password_step(page, username, password)
    page.wait_for_url(lambda url: url.endswith("/login/verify"))
    page.fill("input[name=code]", live_totp(username))
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_enrol_lock_unlock_reset_and_forced_change(
    open_page: Callable[[], Page],
    live_env: dict[str, str],
    live_totp: Callable[[str], str],
    shot: Callable[[Page, str], None],
    viewport: str,
) -> None:
    name = f"e2e_lock_{viewport}"
    given = "Given-by-admin-58"
    _flask(live_env, "users", "create", name, "--name", "锁定测试", "--role", "unit_staff",
           "--org", "江苏省政务服务中心", "--password", given)  # fmt: skip

    # First sign-in: bind the authenticator by its QR code, keep the recovery codes, then
    # change the password an administrator gave.
    page = open_page()
    _password_step(page, name, given)
    page.wait_for_url(lambda url: url.endswith("/login/totp-setup"))
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    shot(page, "01-enrol")
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.fill("input[name=code]", "000000")
    page.click("button[type=submit]")
    expect(page.locator(".alert-danger")).to_contain_text("动态口令不正确")
    page.fill("input[name=code]", totp.code_at(secret))
    page.click("button[type=submit]")
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    shot(page, "02-recovery-codes")
    page.get_by_role("link", name="我已保存，继续").click()
    expect(page.get_by_test_id("forced-change")).to_be_visible()
    page.fill("input[name=current]", given)
    page.fill("input[name=new]", "password")  # refused, with what was typed kept
    page.fill("input[name=confirm]", "password")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".invalid-feedback").first).to_contain_text("至少 10 个字符")
    shot(page, "03-weak-password-refused")
    own = "Own-lantern-2031"
    page.fill("input[name=current]", given)
    page.fill("input[name=new]", own)
    page.fill("input[name=confirm]", own)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(lambda url: "/password" not in url)
    page.context.clear_cookies()

    # Five wrong passwords lock the account; the right one no longer opens it, and the
    # message is the same as for an unknown name.
    page = open_page()
    for _ in range(5):
        _password_step(page, name, "Wrong-pass-0")
    _password_step(page, name, own)
    locked_text = page.locator(".alert-danger").inner_text()
    assert "锁定" in locked_text and "/login" in page.url
    shot(page, "04-locked")
    _password_step(page, "no_such_account", "Wrong-pass-0")
    assert page.locator(".alert-danger").inner_text() == locked_text

    # The security administrator sees the lock, lifts it, and resets the password.
    admin = open_page()
    _sign_in(admin, live_totp, "secadmin", PASSWORD)
    admin.goto("/admin/users")
    row = admin.get_by_test_id(f"user-{name}")
    expect(row.get_by_test_id(f"locked-{name}")).to_be_visible()
    row.scroll_into_view_if_needed()
    shot(admin, "05-secadmin-locked-user")
    row.get_by_role("button", name="解锁").click()
    expect(admin.locator(".alert-success")).to_contain_text(f"已解锁 {name}")
    expect(admin.get_by_test_id(f"locked-{name}")).to_have_count(0)
    admin.get_by_test_id(f"user-{name}").get_by_role("link", name="重设密码").click()
    shot(admin, "06-secadmin-reset-form")
    reset = "Reset-by-secadmin-4"
    admin.fill("input[name=password]", reset)
    admin.locator("main button[type=submit], form button[type=submit]").last.click()
    expect(admin.locator(".alert-success")).to_contain_text(f"已重设 {name} 的密码")
    shot(admin, "07-secadmin-reset-done")

    # The owner signs in with the reset password and must change it before anything else.
    page = open_page()
    _sign_in(page, live_totp, name, reset)
    page.goto("/")
    expect(page.get_by_test_id("forced-change")).to_be_visible()
    shot(page, "08-forced-change")
    page.fill("input[name=current]", reset)
    page.fill("input[name=new]", "Second-lantern-2032")
    page.fill("input[name=confirm]", "Second-lantern-2032")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("forced-change")).to_have_count(0)
    assert "/password" not in page.url


def test_second_administrator_approves(
    open_page: Callable[[], Page],
    live_totp: Callable[[str], str],
    shot: Callable[[Page, str], None],
    viewport: str,
) -> None:
    wanted = f"e2e_auditor_{viewport}"
    sysadmin = open_page()
    _sign_in(sysadmin, live_totp, "sysadmin", PASSWORD)
    sysadmin.goto("/admin/admins")
    form = sysadmin.get_by_test_id("admin-request-form")
    form.locator("input[name=username]").fill(wanted)
    form.locator("input[name=name]").fill("新审计员")
    form.locator("select[name=role]").select_option(label="审计管理员")
    form.locator("select[name=org_id]").select_option(label="江苏省财政厅")
    form.get_by_role("button", name="提交申请").click()
    expect(sysadmin.locator(".alert-success")).to_contain_text("须由另一名管理员批准")
    mine = sysadmin.get_by_test_id(f"request-{wanted}")
    expect(mine).to_contain_text("等待另一名管理员批准")  # nobody approves their own
    expect(mine.get_by_role("button", name="批准")).to_have_count(0)
    shot(sysadmin, "09-admin-requested")

    secadmin = open_page()
    _sign_in(secadmin, live_totp, "secadmin", PASSWORD)
    secadmin.goto("/admin/admins")
    secadmin.get_by_test_id(f"request-{wanted}").get_by_role("button", name="批准").click()
    flash = secadmin.locator(".alert-success")
    expect(flash).to_contain_text(f"已批准并创建 审计管理员 {wanted}")
    expect(secadmin.get_by_test_id(f"request-{wanted}")).to_contain_text("已批准")
    shot(secadmin, "10-admin-approved")


def test_auditor_filters_and_exports(
    open_page: Callable[[], Page],
    live_totp: Callable[[str], str],
    shot: Callable[[Page, str], None],
) -> None:
    page = open_page()
    _sign_in(page, live_totp, "auditor", PASSWORD)
    page.goto("/audit/")
    expect(page.get_by_test_id("audit-rows")).to_be_visible()
    shot(page, "11-auditor-viewer")
    page.locator("select[name=log]").select_option("security")
    page.fill("input[name=kind]", "login")
    page.locator("select[name=outcome]").select_option("success")
    page.get_by_role("button", name="查询").click()
    rows = page.get_by_test_id("audit-rows").locator("tbody tr")
    expect(rows.first).to_contain_text("auditor")
    shot(page, "12-auditor-filtered")
    with page.expect_download() as info:
        page.get_by_test_id("audit-export").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)
    sheet = book.worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) >= 2 and any("auditor" in str(v) for v in values[1])
    # The query and the export were logged.
    page.goto("/audit/?log=security&kind=audit_export")
    expect(page.get_by_test_id("audit-rows").locator("tbody tr").first).to_contain_text("auditor")
