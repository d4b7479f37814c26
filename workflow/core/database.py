"""Database helpers: SQLite pragmas, read requests, write transactions and the optimistic
version check."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, request
from sqlalchemy import event, exc, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from workflow.core.extensions import db

_IMMEDIATE = "sqlite_begin_immediate"
# session.info key: this session serves a GET or HEAD and has not begun a write.
READS_ONLY = "reads_only"
_READ_HELD = "holds_the_read_connection"
# Execution option of a read request's connection: a statement that writes is refused on it.
_READ_CONNECTION = "jixiao_read_connection"
_WRITES = ("INSERT", "UPDATE", "DELETE")


def configure_engine(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_writes_on_reads(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        # A GET's connection reads (in autocommit on PostgreSQL): a write there, by the ORM or
        # by Core, would commit statement by statement. Writes begin with begin_write().
        if not conn.get_execution_options().get(_READ_CONNECTION):
            return
        if statement.lstrip()[:6].upper() in _WRITES:
            raise RuntimeError("a GET request wrote without begin_write(): it would autocommit")

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


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled server connection before use if it lay idle for idle_seconds or more
    (a restart or an idle timeout may have dropped it); a failed test replaces it before
    the request uses it. SQLAlchemy's pool_pre_ping tests before every use: a round trip
    on every request, though a connection handed back a moment ago cannot have gone stale
    in the meantime."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or back in the pool a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as error:  # the driver's own error for a dropped connection
            raise exc.DisconnectionError("连接已断开") from error
        if not alive:
            raise exc.DisconnectionError("连接已断开")


def is_read_request() -> bool:
    """A GET or HEAD of a page (not a static file): it only reads, until begin_write()."""
    return request.method in ("GET", "HEAD") and request.endpoint != "static"


def _start_request() -> None:
    """A GET or HEAD only reads: on a server database its statements run in autocommit (no
    BEGIN and ROLLBACK round trips; under READ COMMITTED a transaction of reads sees no
    more consistency than that), which also lets the driver keep its prepared statements
    (psycopg forgets them at every ROLLBACK). A write in such a request begins with
    begin_write() or immediate(), which leave the autocommit connection for a transaction
    of their own; a flush before that is refused (_refuse_write_in_read)."""
    if not is_read_request():
        return
    session = db.session()
    session.info[READS_ONLY] = True
    if session.in_transaction():
        return  # a test holds the application context, and the session with it
    options: dict[str, Any] = {_READ_CONNECTION: True}
    if db.engine.dialect.name != "sqlite":
        options["isolation_level"] = "AUTOCOMMIT"
    session.connection(execution_options=options)
    session.info[_READ_HELD] = True


def reads_committed() -> bool:
    """Whether this request reads on a connection of its own (a GET or HEAD, in autocommit
    on PostgreSQL, in a read transaction on SQLite) and has begun no write: all it reads is
    committed data."""
    return bool(db.session().info.get(_READ_HELD))


def _end_request(_error: BaseException | None) -> None:
    """The session outlives the request where a test holds the application context."""
    if not is_read_request():
        return
    session = db.session()
    session.info.pop(READS_ONLY, None)
    if session.info.pop(_READ_HELD, None) and session.in_transaction():
        session.rollback()  # hands the read connection back; nothing to roll back


def _refuse_write_in_read(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READS_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a GET request wrote without begin_write(): it would autocommit")


def init_app(app: Flask) -> None:
    with app.app_context():
        configure_engine(db.engine)
        if db.engine.dialect.name != "sqlite" and not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get(
            "pool_pre_ping"
        ):
            ping_when_idle(db.engine, float(app.config["DB_PING_IDLE_SECONDS"]))
    # Before every other hook: the first statement of a request (its user) sets it up.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.teardown_request(_end_request)
    if not event.contains(Session, "before_flush", _refuse_write_in_read):
        event.listen(Session, "before_flush", _refuse_write_in_read)


def _leave_read(session: Any) -> None:
    """End a read request's autocommit use: what follows is a transaction. Changes made to
    objects before that would have been flushed in autocommit: refused."""
    if session.info.pop(READS_ONLY, None) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a GET request changed objects before begin_write()")
    if session.info.pop(_READ_HELD, None) and session.in_transaction():
        session.rollback()


def immediate(session: Any) -> None:
    """Begin a write transaction on this session (IMMEDIATE on SQLite), with no re-check of
    the signed-in user: for recording a refusal, which must be written whoever asks."""
    _leave_read(session)
    session.connection(execution_options={_IMMEDIATE: True})


def begin_write() -> None:
    """Start the request's write transaction (IMMEDIATE on SQLite).

    Anything read before (the logged-in user, say) was read in a read transaction; it is
    ended first so that the write transaction sees the newest committed data.
    """
    session = db.session()
    _leave_read(session)
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
