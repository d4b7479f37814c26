"""Browser tests: the real app (gunicorn, a fresh demo database) driven by Debian's Chromium.

The server runs in a subprocess on a free port of 127.0.0.1 with its own JIXIAO_VAR and
SQLite file, built by the real `flask init-db` (migrations) and `flask demo` commands, and is
stopped at the end of the session. Chromium is Debian's (`/usr/bin/chromium`), launched
through Playwright's sync API; `playwright install` is never needed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

PASSWORD = "e2e-demo-pass-2024"
ROOT = Path(__file__).resolve().parents[2]
# The README shows docs/screenshots; a test run writes under var/ unless asked to refresh them
# (E2E_SCREENSHOTS=docs/screenshots make test), so that running the tests changes no file.
SCREENSHOTS = ROOT / os.environ.get("E2E_SCREENSHOTS", "var/screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The environment of each live server, by its base URL (for `flask users totp`).
LIVE_ENV: dict[str, dict[str, str]] = {}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    """A console script of the interpreter running the tests (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _check_prerequisites() -> None:
    # Without a CJK font every Chinese character is an empty box in the screenshots while
    # every text assertion still passes: refuse to run rather than record boxes.
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():
        pytest.fail("没有中文字体（fc-list :lang=zh 为空）：请安装 fonts-noto-cjk")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"找不到 Chromium：{CHROMIUM}（Debian 软件包 chromium）")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _check_prerequisites()
    var = tmp_path_factory.mktemp("e2e-var")
    env = {
        **os.environ,
        "JIXIAO_VAR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'e2e.sqlite3'}",
        "SECRET_KEY": "e2e-secret-key-for-the-browser-tests-only",
        "OUTBOX_DISPATCH": "0",  # no broker here: the outbox rows simply wait
        "MAIL_SUPPRESS_SEND": "1",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("FLASK_APP", None)
    flask = [_bin("flask"), "--app", "wsgi"]
    for args in (["init-db"], ["demo", "--password", PASSWORD]):
        done = subprocess.run(
            flask + args, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"flask {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    port = _free_port()
    log = (var / "server.log").open("w")
    server = subprocess.Popen(
        [
            _bin("gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    LIVE_ENV[base] = env
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2) as resp:  # noqa: S310 - loopback
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError("服务器未能启动：\n" + (var / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def new_page(browser: Browser, live_server: str) -> Iterator[Callable[[], Page]]:
    """new_page() -> a page in a fresh browser context (its own cookies)."""
    contexts = []

    def _new() -> Page:
        context = browser.new_context(
            base_url=live_server, locale="zh-CN", viewport={"width": 1400, "height": 900}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page_as(new_page: Callable[[], Page], live_server: str) -> Callable[[str], Page]:
    """page_as("finance") -> a page logged in through the real login form."""

    def _login(username: str) -> Page:
        page = new_page()
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: url.rstrip("/").split("?")[0].endswith("/login/verify"))
        page.fill("input[name=code]", totp_code(live_server, username))
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    return _login


def totp_code(base: str, username: str) -> str:
    """The account's current code from `flask users totp` (development only), as a person
    reads it off the authenticator; the step is forgotten first, because the browser tests
    sign the same account in several times within one 30-second step."""
    env = {**os.environ, **LIVE_ENV[base]}
    db_url = env["DATABASE_URL"]
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE users SET totp_last_step = NULL WHERE username = :u"), {"u": username}
        )
    engine.dispose()
    done = subprocess.run(
        [_bin("flask"), "--app", "wsgi", "users", "totp", username],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def live_env(live_server: str) -> dict[str, str]:
    """The live server's environment, for running its flask commands."""
    return {**os.environ, **LIVE_ENV[live_server]}


@pytest.fixture
def live_totp(live_server: str) -> Callable[[str], str]:
    return lambda username: totp_code(live_server, username)
