"""Database helpers: SQLite pragmas, write transactions and the optimistic version check."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from workflow.core.extensions import db

_IMMEDIATE = "sqlite_begin_immediate"


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would issue a deferred BEGIN behind our back;
        # we emit BEGIN ourselves so that writes can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads, then writes, fails with "database is locked"
        # under concurrency whatever the busy timeout; writes therefore begin IMMEDIATE.
        # A read's BEGIN takes no lock and cannot fail: it goes straight to the driver (through
        # the engine, every request's BEGIN went the whole way of a statement for no result).
        # A write's may time out on the lock, and keeps the engine's error handling.
        if conn.get_execution_options().get(_IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.connection.driver_connection.execute("BEGIN")


def init_app(app: Flask) -> None:
    with app.app_context():
        configure_engine(db.engine)


def immediate(session: Any) -> None:
    """Begin a write transaction on this session (IMMEDIATE on SQLite), with no re-check of
    the signed-in user: for recording a refusal, which must be written whoever asks."""
    session.connection(execution_options={_IMMEDIATE: True})


def begin_write() -> None:
    """Start the request's write transaction (IMMEDIATE on SQLite).

    Anything read before (the logged-in user, say) was read in a read transaction; it is
    ended first so that the write transaction sees the newest committed data.
    """
    session = db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            session.flush()
            return
        session.rollback()
    session.connection(execution_options={_IMMEDIATE: True})
    _recheck_signed_in_user()


def _recheck_signed_in_user() -> None:
    """Refuse the write if the signed-in user was disabled, or their password reset, since
    the request read them.

    A request reads its user once, in its read transaction, as a plain value
    (auth.load_user_from_id). Disabling an account or resetting its password rotates its
    session token, so the next request is anonymous; this closes the window of the request
    in flight, which may have waited here for the write lock."""
    from flask import has_request_context
    from flask_login import current_user
    from werkzeug.exceptions import Forbidden

    from workflow.models import SessionUser, User

    if not has_request_context():
        return
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(user, SessionUser):
        return  # anonymous, or the ORM row itself (the login request), read just now
    users = User.__table__
    now = db.session.execute(
        select(users.c.active, users.c.session_token).where(users.c.id == user.id)
    ).first()
    if now is None or not now.active or now.session_token != user.session_token:
        raise Forbidden("账号已停用或登录已失效，请重新登录后再操作。")
