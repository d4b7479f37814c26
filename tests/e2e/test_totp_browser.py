"""The second factor in the browser: a new account binds TOTP by its QR page, keeps its
recovery codes, then must change the password it was given; at 1366×768."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from workflow.auth import totp

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_enrol_totp_and_sign_in_with_it(
    browser: Browser,
    live_server: str,
    live_env: dict[str, str],
    live_totp: Callable[[str], str],
    screenshots: Path,
) -> None:
    env = live_env
    first = "Given-by-admin-42"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "flask"),
            "--app",
            "wsgi",
            "users",
            "create",
            "e2e_newcomer",
            "--name",
            "新同事",
            "--role",
            "unit_staff",
            "--org",
            "江苏省政务服务中心",
            "--password",
            first,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    context = browser.new_context(
        base_url=live_server, locale="zh-CN", viewport={"width": 1366, "height": 768}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", "e2e_newcomer")
    page.fill("input[name=password]", first)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server}/login/totp-setup")
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    page.screenshot(path=str(screenshots / "15-totp-enrol.png"))
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.fill("input[name=code]", totp.code_at(secret))
    page.click("button[type=submit]")
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.screenshot(path=str(screenshots / "16-recovery-codes.png"))
    page.get_by_role("link", name="我已保存，继续").click()
    expect(page.get_by_test_id("forced-change")).to_be_visible()  # the given password
    page.fill("input[name=current]", first)
    page.fill("input[name=new]", "Own-choice-2027")
    page.fill("input[name=confirm]", "Own-choice-2027")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(f"{live_server}/")
    page.get_by_role("button", name="退出").click()
    # A second sign-in asks the password, then the code from the app.
    page.fill("input[name=username]", "e2e_newcomer")
    page.fill("input[name=password]", "Own-choice-2027")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server}/login/verify")
    page.screenshot(path=str(screenshots / "17-totp-verify.png"))
    page.fill("input[name=code]", live_totp("e2e_newcomer"))
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server}/")
    context.close()
