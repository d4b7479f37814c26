"""Shared fixtures: an app on a fresh database holding the demo world.

The demo world (organisations, the eight demo accounts, the Jiangsu 2022 cycle, the seed
form and evaluations in every state) is built once per test session through the real
`flask demo` command and copied for each test: a SQLite file copy, or a PostgreSQL
`CREATE DATABASE ... TEMPLATE`, so that each test starts clean in milliseconds.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from workflow import create_app
from workflow.core.crypto import generate_sm2_pem
from workflow.core.extensions import db

PASSWORD = "demo-pass-2024"
# One SM2 seal key for the test session: the template world's confirmed evaluations were
# sealed with it, and every copy of that world must verify them with the same key.
SEAL_PEM = generate_sm2_pem()
PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _config(tmp: Path, url: str, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "VAR_DIR": str(tmp / "var"),
        "PDF_DIR": str(tmp / "var" / "pdf"),
        "EVIDENCE_DIR": str(tmp / "var" / "evidence"),
        "OUTBOX_DISPATCH": False,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test-secret-key-not-for-production-use",
        "MAIL_SUPPRESS_SEND": True,
        "SEAL_PRIVATE_KEY": SEAL_PEM,
    }
    cfg.update(extra)
    return cfg


def _build_world(app: Flask) -> None:
    with app.app_context():
        db.create_all()
        result = app.test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
        assert result.exit_code == 0, result.output + repr(result.exception)
        db.session.remove()
        db.engine.dispose()


# --- SQLite ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sqlite-template")
    path = base / "world.sqlite3"
    app = create_app(_config(base, f"sqlite:///{path}"))
    _build_world(app)
    # Fold the WAL into the main file so that one file copy carries everything.
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    return path


def make_sqlite_app(template: Path, tmp: Path, **extra: Any) -> Flask:
    path = tmp / "test.sqlite3"
    shutil.copyfile(template, path)
    return create_app(_config(tmp, f"sqlite:///{path}", **extra))


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _pg_exec(sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"jixiao_tpl_{uuid.uuid4().hex[:8]}"
    try:
        _pg_exec(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # pragma: no cover - the CI script starts PostgreSQL
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL 不可用：{exc}")
    base = tmp_path_factory.mktemp("pg-template")
    app = create_app(_config(base, _pg_url(name)))
    _build_world(app)
    yield name
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_app(pg_template: str, tmp_path: Path) -> Iterator[Flask]:
    name = f"jixiao_t_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    app = create_app(_config(tmp_path, _pg_url(name)))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the fixtures tests use ------------------------------------------------------------------


@pytest.fixture
def app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    app = make_sqlite_app(sqlite_template, tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[Flask]:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        app = make_sqlite_app(sqlite_template, tmp_path)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    else:
        yield request.getfixturevalue("pg_app")


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def totp_code(app: Flask, username: str, *, fresh: bool = True) -> str:
    """The current TOTP code of a demo account. ``fresh`` forgets the last step it used:
    tests sign the same account in many times within one 30-second step, which the app
    rightly refuses as a replay (tests/workflow/auth/test_identity.py tests that)."""
    from sqlalchemy import func, select

    from workflow.auth import totp
    from workflow.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        assert user is not None and user.totp_secret, username
        if fresh:
            user.totp_last_step = None
            db.session.commit()
        code = totp.code_at(user.totp_secret)
        db.session.remove()
    return code


def second_step(client: FlaskClient, username: str, location: str, **extra: str) -> None:
    """After the password: the TOTP code, or the enrolment of a new account (its secret is
    read from the enrolment page, as a person's authenticator app would scan it)."""
    import re

    from workflow.auth import totp

    def csrf(page: str) -> dict[str, str]:
        # The login starts a new session, so the step after it has a token of its own.
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        return {"csrf_token": token.group(1)} if token and "csrf_token" in extra else {}

    if location.endswith("/login/verify"):
        page = client.get("/login/verify").get_data(as_text=True)
        code = totp_code(client.application, username)
        resp = client.post("/login/verify", data={"code": code, **extra, **csrf(page)})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    elif location.endswith("/login/totp-setup"):
        page = client.get("/login/totp-setup").get_data(as_text=True)
        secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page)
        assert secret, page[:500]
        resp = client.post(
            "/login/totp-setup",
            data={"code": totp.code_at(secret.group(1)), **extra, **csrf(page)},
        )
        assert resp.status_code == 200 and "recovery-codes" in resp.get_data(as_text=True)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, with the second factor when the account has one."""
    resp = client.post("/login", data={"username": username, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    second_step(client, username, resp.headers["Location"])


@pytest.fixture
def login_as(client: FlaskClient) -> Any:
    def _login(username: str) -> FlaskClient:
        login(client, username)
        return client

    return _login
