"""Two people press a button on the same evaluation at the same moment, over real HTTP
against a threaded server, on SQLite and on PostgreSQL: one wins, the other gets 409."""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request

from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, totp_code
from tests.workflow.helpers import in_state
from workflow.core.extensions import db
from workflow.models import Evaluation


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def test_exactly_one_wins_over_http(any_app: Flask) -> None:
    server = make_server("127.0.0.1", 0, any_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with any_app.app_context():
            ev = in_state("self_scored")[0]
            ev_id, version = ev.id, ev.version
        reviewer, unit = Browser(base), Browser(base)
        for browser, name in ((reviewer, "reviewer"), (unit, "unit_b")):
            code, _ = browser.post("/login", {"username": name, "password": PASSWORD})
            assert code == 302
            code, _ = browser.post("/login/verify", {"code": totp_code(any_app, name)})
            assert code == 302
        barrier = threading.Barrier(2)
        results: dict[str, tuple[int, str]] = {}

        def press(browser: Browser, who: str, event: str) -> None:
            barrier.wait()
            results[who] = browser.post(
                f"/evaluations/{ev_id}/events/{event}", {"version": str(version)}
            )

        threads = [
            threading.Thread(target=press, args=(reviewer, "reviewer", "start_review")),
            threading.Thread(target=press, args=(unit, "unit", "withdraw")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        codes = sorted(code for code, _ in results.values())
        assert codes == [302, 409], {k: (c, b[:200]) for k, (c, b) in results.items()}
        loser = next(body for code, body in results.values() if code == 409)
        import re

        assert "已被他人处理，请刷新后重试" in loser, re.sub(
            r"\s+", " ", re.sub(r"<[^>]+>", " ", loser)
        )[:1200]
        with any_app.app_context():
            assert db.session.get(Evaluation, ev_id).version == version + 1
            db.session.remove()
    finally:
        server.shutdown()
        thread.join(10)
