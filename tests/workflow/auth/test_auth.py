"""Login, sessions, CSRF, rate limit, headers and the production key check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import PASSWORD, login, make_sqlite_app
from workflow import create_app


def test_login_page_and_wrong_password(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html and "登录" in html
    bad = client.post("/login", data={"username": "unit_a", "password": "wrong"})
    assert bad.status_code == 401
    assert "用户名或密码错误" in bad.get_data(as_text=True)
    assert 'value="unit_a"' in bad.get_data(as_text=True)  # what was typed is kept
    assert client.get("/").status_code == 302


def test_login_redirect_only_to_own_site(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/login?next=https://evil.example/x", data={"username": "unit_a", "password": PASSWORD}
    )
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]


def test_logout_makes_old_cookie_useless(app: Flask) -> None:
    client = app.test_client()
    login(client, "unit_a")
    stolen = client.get_cookie("session")
    assert stolen is not None
    assert client.get("/").status_code == 200
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("session", stolen.value)
    assert replay.get("/").status_code == 302


def test_password_change_ends_other_sessions(app: Flask) -> None:
    first, second = app.test_client(), app.test_client()
    login(first, "unit_b")
    login(second, "unit_b")
    short = first.post("/password", data={"current": PASSWORD, "new": "short", "confirm": "short"})
    assert "至少 10 个字符" in short.get_data(as_text=True)
    resp = first.post(
        "/password",
        data={"current": PASSWORD, "new": "a-new-password-1", "confirm": "a-new-password-1"},
    )
    assert resp.status_code == 302
    assert first.get("/").status_code == 200  # this browser stays logged in
    assert second.get("/").status_code == 302  # the other one is out
    login(app.test_client(), "unit_b", "a-new-password-1")


def test_session_cookie_flags(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/login", data={"username": "unit_a", "password": PASSWORD})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers_everywhere(client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/login", "/", "/no-such-page"):
        resp = client.get(url)
        csp = resp.headers["Content-Security-Policy"]
        assert (
            "script-src 'self'" in csp
            and "frame-ancestors 'none'" in csp
            and "unsafe-inline" not in csp
        )
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"]


def test_no_inline_script_or_style_in_templates() -> None:
    root = Path(__file__).resolve().parents[3] / "templates"
    checked = 0
    for path in root.rglob("*.html"):
        if "pdf" in path.parts or "email" in path.parts:
            continue  # not served to browsers
        checked += 1
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path
    # A wrong path would find no template and prove nothing.
    assert checked >= 20, root


def test_csrf_is_on_outside_tests(sqlite_template, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_sqlite_app(sqlite_template, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    resp = client.post("/login", data={"username": "unit_a", "password": PASSWORD})
    assert resp.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    ok = client.post(
        "/login", data={"username": "unit_a", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert ok.status_code == 302


def test_login_rate_limit(sqlite_template, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_sqlite_app(
        sqlite_template, tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute"
    )
    client = app.test_client()
    codes = [
        client.post("/login", data={"username": "unit_a", "password": "x"}).status_code
        for _ in range(4)
    ]
    assert codes[:3] == [401, 401, 401] and codes[3] == 429
    assert "过于频繁" in client.post(
        "/login", data={"username": "unit_a", "password": "x"}
    ).get_data(as_text=True)


@pytest.mark.parametrize("key", ["", "dev-only-not-secret", "short"])
def test_production_refuses_default_secret(tmp_path, key: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            {
                "ENV_NAME": "production",
                "SECRET_KEY": key,
                "VAR_DIR": str(tmp_path),
                "PDF_DIR": str(tmp_path / "p"),
                "EVIDENCE_DIR": str(tmp_path / "e"),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_disabled_user_cannot_log_in(app: Flask) -> None:
    from sqlalchemy import select

    from workflow.core.extensions import db
    from workflow.models import User

    client = app.test_client()
    login(client, "unit_c")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "unit_c"))
        user.active = False
        user.rotate_session()
        db.session.commit()
    assert client.get("/").status_code == 302
    resp = client.post("/login", data={"username": "unit_c", "password": PASSWORD})
    assert resp.status_code == 401


def test_the_signed_in_user_is_a_value_read_once_per_request(app: Flask) -> None:
    """Pages get the user as one row read with its organisation, not an ORM entity."""
    from flask_login import current_user

    from workflow.core.extensions import db
    from workflow.models import SessionUser, User

    client = app.test_client()
    login(client, "reviewer")
    with client:
        assert client.get("/review/").status_code == 200
        user = current_user._get_current_object()
        assert isinstance(user, SessionUser)
        with app.app_context():
            row = db.session.scalars(db.select(User).where(User.username == "reviewer")).one()
            assert (user.id, user.name, user.role, user.org_id) == (
                row.id,
                row.name,
                row.role,
                row.org_id,
            )
            assert user.org.name == row.org.name and user.role_label == row.role_label


@pytest.mark.parametrize("change", ["disable", "reset_password"])
def test_a_write_refuses_a_user_disabled_while_the_request_ran(app: Flask, change: str) -> None:
    """The request read its user before an administrator disabled them (or reset their
    password); its write transaction reads them again and refuses, keeping what was saved."""
    from flask_login import login_user
    from sqlalchemy import select
    from werkzeug.exceptions import Forbidden

    from workflow.accounts import operations as accounts_ops
    from workflow.auth.routes import load_user_from_id
    from workflow.core.extensions import db
    from workflow.evaluations import operations
    from workflow.models import Evaluation, User

    with app.test_request_context("/"):
        unit_b = db.session.scalars(select(User).where(User.username == "unit_b")).one()
        ev = db.session.scalars(
            select(Evaluation).where(
                Evaluation.unit_id == unit_b.org_id, Evaluation.state == "self_scored"
            )
        ).first()
        assert ev is not None
        ev_id, version, cookie_id = ev.id, ev.version, unit_b.get_id()
        db.session.rollback()
        signed_in = load_user_from_id(cookie_id)
        assert signed_in is not None
        login_user(signed_in)
        db.session.rollback()
        # The administrator, in another connection, meanwhile.
        with app.app_context():
            target = db.session.get(User, signed_in.id)
            if change == "disable":
                accounts_ops.disable_user(target)
            else:
                accounts_ops.reset_password(target)
            db.session.commit()
        with pytest.raises(Forbidden, match="请重新登录"):
            operations.fire(signed_in, ev_id, "withdraw", expected_version=version)
        db.session.rollback()
        still = db.session.get(Evaluation, ev_id)
        assert (still.state, still.version) == ("self_scored", version)
