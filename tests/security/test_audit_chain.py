"""Tamper evidence (GB/T 22239 §8.1.4.3 c): the HMAC-SM3 chain over the audit log and the
security-event log finds a row edited, deleted or inserted behind the application's back,
on SQLite and PostgreSQL; the append-only triggers refuse UPDATE and DELETE; a refused request
is logged; the archive keeps the retention and leaves a chain that still verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import login
from workflow.core import chain
from workflow.core.audit import record_security_event
from workflow.core.extensions import db
from workflow.models import AuditLog, SecurityEvent


def _triggers_off(table: str) -> None:
    """What an operator with SQL access could do: switch the append-only triggers off."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        db.session.execute(sa.text(f"DROP TRIGGER {table}_no_update"))
        db.session.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))


def _verify(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _middle(table: sa.Table) -> tuple[int, int]:
    rows = db.session.execute(sa.select(table.c.id, table.c.seq).order_by(table.c.seq)).all()
    assert len(rows) >= 3
    return rows[len(rows) // 2].id, rows[len(rows) // 2].seq


@pytest.fixture
def with_events(any_app: Flask) -> Flask:
    with any_app.app_context():
        for i in range(4):
            record_security_event("export", user=None, username=f"probe{i}", outcome="success")
        db.session.commit()
        assert chain.verify(db.session()) == []
    return any_app


def test_the_demo_chains_verify(with_events: Flask) -> None:
    code, out = _verify(with_events)
    assert code == 0 and "审计链完好" in out


@pytest.mark.parametrize("table_name", ["audit_log", "security_events"])
def test_an_edited_row_is_named(with_events: Flask, table_name: str) -> None:
    with with_events.app_context():
        table = db.metadata.tables[table_name]
        row_id, seq = _middle(table)
        _triggers_off(table_name)
        column = "reason" if table_name == "audit_log" else "username"
        db.session.execute(table.update().where(table.c.id == row_id).values({column: "改过了"}))
        db.session.commit()
    code, out = _verify(with_events)
    assert code == 1
    assert f"{table_name} 第一处断链：id={row_id} seq={seq}" in out and "内容与链值不符" in out


@pytest.mark.parametrize("table_name", ["audit_log", "security_events"])
def test_a_deleted_row_is_found_at_the_next(with_events: Flask, table_name: str) -> None:
    with with_events.app_context():
        table = db.metadata.tables[table_name]
        row_id, seq = _middle(table)
        _triggers_off(table_name)
        db.session.execute(table.delete().where(table.c.id == row_id))
        db.session.commit()
        nxt = db.session.execute(sa.select(table.c.id).where(table.c.seq == seq + 1)).scalar()
    code, out = _verify(with_events)
    assert code == 1
    assert f"{table_name} 第一处断链：id={nxt} seq={seq + 1}" in out and "被删除" in out


def test_an_inserted_row_is_found(with_events: Flask) -> None:
    """A row written with plain SQL (no key): a forged chain value, and a seq in between."""
    with with_events.app_context():
        t = SecurityEvent.__table__
        head = db.session.execute(sa.select(sa.func.max(t.c.seq))).scalar()
        db.session.execute(
            sa.text(
                "INSERT INTO security_events (created_at, kind, outcome, username, role, ip, "
                "user_agent, object, seq, chain) VALUES (CURRENT_TIMESTAMP, 'login', 'success', "
                "'ghost', '', '', '', '', :seq, :chain)"
            ),
            {"seq": head + 1, "chain": "0" * 64},
        )
        db.session.commit()
        ghost = db.session.execute(sa.select(t.c.id).where(t.c.username == "ghost")).scalar()
    code, out = _verify(with_events)
    assert code == 1 and f"id={ghost} seq={head + 1}" in out


def test_the_database_refuses_update_and_delete(with_events: Flask) -> None:
    with with_events.app_context():
        for sql in ("UPDATE security_events SET kind = 'x'", "DELETE FROM security_events"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                db.session.execute(sa.text(sql))
            db.session.rollback()


def test_concurrent_writers_keep_one_gap_free_chain(pg_app: Flask) -> None:
    """Writers in parallel (PostgreSQL, the advisory lock): every seq once, the chain valid."""
    import threading

    barrier = threading.Barrier(4)

    def write(n: int) -> None:
        with pg_app.app_context():
            barrier.wait()
            for i in range(5):
                record_security_event("export", user=None, username=f"w{n}-{i}", outcome="success")
                db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with pg_app.app_context():
        t = SecurityEvent.__table__
        seqs = [r for (r,) in db.session.execute(sa.select(t.c.seq).order_by(t.c.seq))]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 20
        assert chain.verify(db.session()) == []


def test_a_failing_event_insert_rolls_the_action_back(app: Flask) -> None:
    """Fail closed: the event is in the action's transaction; no event, no action."""
    from workflow.models import Org

    with app.app_context():
        db.session.add(Org(name="回滚测试部门", kind="department"))
        record_security_event("admin_action", user=None, username="x", outcome="success")
        db.session.add(SecurityEvent(kind="x", outcome="not-an-outcome"))  # violates a CHECK
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(sa.select(Org).where(Org.name == "回滚测试部门")) is None


def test_a_refused_object_is_a_security_event(any_app: Flask) -> None:
    """A unit opening another unit's evaluation gets 404 and a 'denied' row with who, where."""
    from tests.workflow.helpers import seed_evaluation

    with any_app.app_context():
        ev_id = seed_evaluation().id
    client = any_app.test_client()
    login(client, "unit_b")
    assert client.get(f"/evaluations/{ev_id}").status_code == 404
    with any_app.app_context():
        row = db.session.scalars(
            sa.select(SecurityEvent).where(SecurityEvent.kind == "denied")
        ).one()
        assert row.username == "unit_b" and row.role == "unit_staff" and row.outcome == "denied"
        assert row.object == f"GET /evaluations/{ev_id}" and row.detail["status"] == 404
        assert row.user_agent.startswith("Werkzeug/") and row.ip == "127.0.0.1"
        assert chain.verify(db.session()) == []


def test_archive_keeps_the_retention_and_the_chain(any_app: Flask, tmp_path: Path) -> None:
    """The archive takes the prefix of each chain older than the retention. A year from
    now, everything the world wrote so far (the demo's seals, two events dated a year back)
    is old; an event written then is recent and stays."""
    import time_machine

    runner = any_app.test_cli_runner()
    too_recent = (datetime.now(UTC).date() - timedelta(days=179)).isoformat()
    refused = runner.invoke(args=["audit", "archive", "--before", too_recent, str(tmp_path / "a")])
    assert refused.exit_code == 1 and "只能归档 180 天以前的记录" in refused.output
    with any_app.app_context():
        old = datetime.now(UTC) - timedelta(days=365)
        for name in ("old1", "old2"):  # written through the insert path (so chained)
            db.session.add(
                SecurityEvent(kind="login", outcome="success", username=name, created_at=old)
            )
        db.session.commit()
        audit_rows = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
        event_rows = db.session.scalar(sa.select(sa.func.count()).select_from(SecurityEvent))
    out = tmp_path / "archive.jsonl"
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400)):
        with any_app.app_context():
            record_security_event("login", user=None, username="recent", outcome="success")
            db.session.commit()
        cutoff = (datetime.now(UTC).date() - timedelta(days=200)).isoformat()
        result = runner.invoke(args=["audit", "archive", "--before", cutoff, str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    archived = [line["row"].get("username") for line in lines if line["table"] == "security_events"]
    assert archived[-2:] == ["old1", "old2"] and len(archived) == event_rows
    assert sum(line["table"] == "audit_log" for line in lines) == audit_rows
    with any_app.app_context():
        names = set(db.session.scalars(sa.select(SecurityEvent.username)))
        assert "old1" not in names and "recent" in names
        anchors = db.session.scalars(
            sa.select(SecurityEvent).where(SecurityEvent.kind == "audit_archive")
        ).all()
        assert {a.detail["table"] for a in anchors} == {"audit_log", "security_events"}
        assert chain.verify(db.session()) == []
        # The triggers are back.
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("DELETE FROM security_events"))
        db.session.rollback()
    assert _verify(any_app)[0] == 0


def test_an_export_is_a_security_event(app: Flask) -> None:
    client = app.test_client()
    login(client, "finance")
    assert client.get("/dashboard/export.xlsx").status_code == 200
    with app.app_context():
        row = db.session.scalars(
            sa.select(SecurityEvent).where(SecurityEvent.kind == "export")
        ).one()
        assert row.username == "finance" and row.object == "dashboard.xlsx"
        assert row.outcome == "success"
