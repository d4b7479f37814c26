"""A GET only reads: on PostgreSQL in autocommit, with the driver's prepared statements kept
from one request to the next; a write in it begins with begin_write(), and a change made
before that is refused. A pooled connection that lay idle is tested before use. The header's
counts come with the signed-in user and stop at 99+."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event, func, select, text

from tests.conftest import _config, _pg_exec
from tests.workflow.pagehelpers import client_as
from workflow import create_app
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import AuditLog, Notice, User


def _backend_pid(app: Flask) -> int:
    with app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()
    return int(pid)


def test_a_get_keeps_the_drivers_prepared_statements(pg_app: Flask) -> None:
    """psycopg prepares a statement on its fifth run and forgets them all at a ROLLBACK: with
    a transaction per request nothing was ever prepared; in autocommit the user's statement
    runs prepared from the sixth request on."""
    client = client_as(pg_app, "reviewer")
    for _ in range(9):
        assert client.get("/review/").status_code == 200
    with pg_app.app_context():
        rows = db.session.execute(
            text(
                "SELECT generic_plans + custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%FROM users JOIN orgs%'"
            )
        ).all()
    assert rows and rows[0][0] >= 3, rows


def test_a_get_that_writes_after_begin_write_commits_its_rows(any_app: Flask) -> None:
    """An expired session on a GET rotates the user's token and writes its audit row: a write
    transaction of its own, on either database, after the reads in autocommit."""
    client = client_as(any_app, "reviewer")
    with any_app.app_context():
        token = db.session.scalar(select(User.session_token).where(User.username == "reviewer"))
        before = db.session.scalar(select(func.count()).select_from(AuditLog))
    with client.session_transaction() as sess:
        sess["seen"] = int(time.time()) - 24 * 3600
    resp = client.get("/review/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    with any_app.app_context():
        assert (
            db.session.scalar(select(User.session_token).where(User.username == "reviewer"))
            != token
        )
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before + 1


def _app_with_views(base: Flask, tmp: Path) -> Flask:
    app = create_app(_config(tmp, base.config["SQLALCHEMY_DATABASE_URI"]))

    def rename_unbegun() -> str:
        db.session.get(User, 1).name = "未经 begin_write 的修改"
        db.session.flush()
        return "written"

    def rename_begun() -> str:
        begin_write()
        db.session.get(User, 1).name = "写事务中的修改"
        db.session.commit()
        return "written"

    def update_unbegun() -> str:
        db.session.execute(sa.update(User).where(User.id == 1).values(name="Core 写入"))
        return "written"

    app.add_url_rule("/t/unbegun", view_func=rename_unbegun)
    app.add_url_rule("/t/core", view_func=update_unbegun)
    app.add_url_rule("/t/begun", view_func=rename_begun)
    return app


def test_a_get_that_changes_an_object_without_begin_write_is_refused(
    any_app: Flask, tmp_path: Path
) -> None:
    """In autocommit the write would have committed for good, statement by statement."""
    app = _app_with_views(any_app, tmp_path)
    client = app.test_client()
    with pytest.raises(RuntimeError, match="begin_write"):
        client.get("/t/unbegun")
    with pytest.raises(RuntimeError, match="begin_write"):
        client.get("/t/core")  # by Core, past the ORM's flush
    assert client.get("/t/begun").get_data(as_text=True) == "written"
    with app.app_context():
        assert db.session.get(User, 1).name == "写事务中的修改"
        db.session.remove()
        db.engine.dispose()


def test_a_connection_that_lay_idle_is_tested_and_replaced(pg_app: Flask, tmp_path: Path) -> None:
    """A dropped connection that lay idle past DB_PING_IDLE_SECONDS is found before use and
    replaced: the page answers. One handed back a moment ago is used untested (no round trip
    per request): if the server dropped it in that moment, that one request fails and the
    pool is renewed, as with any connection lost mid-request."""
    url = pg_app.config["SQLALCHEMY_DATABASE_URI"]
    for idle, survives in ((0, True), (3600, False)):
        app = create_app(_config(tmp_path, url, DB_PING_IDLE_SECONDS=idle))
        client = client_as(app, "reviewer")
        assert client.get("/review/").status_code == 200
        pid = _backend_pid(app)
        _pg_exec(f"SELECT pg_terminate_backend({pid})")
        time.sleep(0.2)
        if survives:
            assert client.get("/review/").status_code == 200
        else:
            with pytest.raises(sa.exc.OperationalError):
                client.get("/review/")
            assert client.get("/review/").status_code == 200
        assert _backend_pid(app) != pid
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _statements(app: Flask, client: Any, path: str) -> list[str]:
    seen: list[str] = []

    def _log(_conn: Any, _cur: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _log)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", _log)
    return seen


def test_the_header_counts_come_with_the_user_and_stop_at_99(any_app: Flask) -> None:
    client = client_as(any_app, "finance")
    client.get("/")
    statements = _statements(any_app, client, "/")
    counted = [s for s in statements if "count(" in s and "FROM notices" in s]
    assert counted and all("FROM users" in s for s in counted), counted
    with any_app.app_context():
        finance = db.session.scalar(select(User).where(User.username == "finance"))
        db.session.add_all(
            Notice(user_id=finance.id, kind="test", title=f"通知 {i}", body="") for i in range(120)
        )
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="nav-count-unread">99\+<', html)
    assert "未读消息（99+）" in html


def test_the_unit_filter_is_kept_until_the_organisations_change(any_app: Flask) -> None:
    """The queue's unit filter is read once per process; renaming a unit (any change to
    orgs) raises the generation that comes with the user, and the next page reads it anew."""
    from workflow.models import Org, OrgGeneration

    client = client_as(any_app, "reviewer")
    assert client.get("/review/").status_code == 200
    again = _statements(any_app, client, "/review/")
    assert not [s for s in again if s.startswith("SELECT orgs.id, orgs.name")], again
    with any_app.app_context():
        before = db.session.get(OrgGeneration, 1).n
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer"))
        unit = db.session.scalar(
            select(Org).where(Org.kind == "unit", Org.parent_id == reviewer.org_id).limit(1)
        )
        unit.name = "改名后的预算单位"
        db.session.commit()
        assert db.session.get(OrgGeneration, 1).n > before
    after = _statements(any_app, client, "/review/")
    assert [s for s in after if s.startswith("SELECT orgs.id, orgs.name")]
    html = client.get("/review/").get_data(as_text=True)
    assert "改名后的预算单位" in html
