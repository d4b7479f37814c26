"""The web benchmark's signed-in users: a session cookie made by logging in through the login
page and the second factor, as a browser does, for wrk to send. Used by bench_web.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

from web_servers import ROOT, USER_AGENT

OUT = ROOT / "bench" / "out" / "web"
SECRET = "bench-secret-key-0123456789abcdef-not-for-production"
PASSWORD = "bench-pass-2024"


def app_config(db_path: Path | str) -> dict[str, object]:
    """The app's settings for a SQLite file (a path) or a database URL (PostgreSQL)."""
    url = db_path if isinstance(db_path, str) else f"sqlite:///{db_path}"
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": SECRET,
        "OUTBOX_DISPATCH": False,
        "RATELIMIT_ENABLED": False,
        "VAR_DIR": str(OUT / "var"),
        "PDF_DIR": str(OUT / "var" / "pdf"),
        "EVIDENCE_DIR": str(OUT / "var" / "evidence"),
    }


def session_cookie(db_path: Path | str, username: str) -> str:
    """Log in through the login page, as a browser does, and keep the signed session cookie
    for wrk. The login page puts the CSRF secret in the session; a cookie without it (a login
    with CSRF switched off) would make every measured page add one and set a new cookie."""
    from workflow import create_app

    app = create_app(app_config(db_path))
    client = app.test_client()
    # Flask-Login's strong session protection ties the session to the client's address and
    # User-Agent: wrk and the check below send the same User-Agent from 127.0.0.1.
    env = {"REMOTE_ADDR": "127.0.0.1"}
    headers = {"User-Agent": USER_AGENT}
    page = client.get("/login", headers=headers, environ_base=env).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, page[:300]
    resp = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        headers=headers,
        environ_base=env,
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    # The second factor, as the person would type it from the authenticator app.
    from sqlalchemy import select

    from workflow.auth import totp
    from workflow.core.extensions import db
    from workflow.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        user.totp_last_step = None  # both accounts sign in within one 30-second step
        db.session.commit()
        code = totp.code_at(user.totp_secret)
    page = client.get("/login/verify", headers=headers, environ_base=env).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, page[:300]
    resp = client.post(
        "/login/verify",
        data={"code": code, "csrf_token": token.group(1)},
        headers=headers,
        environ_base=env,
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    # The second factor starts a new session: a page with a form puts its CSRF secret in
    # it, as the browser's first page after signing in does.
    client.get(resp.headers["Location"], headers=headers, environ_base=env)
    cookie = client.get_cookie("session")
    assert cookie is not None
    # A browser keeps the cookie the app refreshes every 15 s (the idle timeout's "seen");
    # wrk sends one cookie for the whole run, so after 15 s every measured request would
    # sign and send a new one that no browser pays for. The session is signed again with
    # "seen" a few hours ahead: the server then neither refreshes nor times it out.
    serializer = app.session_interface.get_signing_serializer(app)
    assert serializer is not None
    data = serializer.loads(cookie.value)
    data["seen"] = int(time.time()) + 6 * 3600
    return f"session={serializer.dumps(data)}"
