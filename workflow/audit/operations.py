"""What changes the logs: the export (logged itself), verification runs and archiving.

Archiving exports the rows older than the retention (at least 180 days, 网络安全法 第二十一条)
to a JSON-lines file, with their chain values, and only then deletes them, in one
transaction on the owner's connection: the application's role cannot delete log rows (the
append-only triggers; on PostgreSQL also REVOKE, README). It leaves an anchor event in the
security log naming the last archived row's chain value, so that the shortened chain still
verifies and nobody can cut rows off the front unnoticed.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from openpyxl import Workbook
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from workflow.audit import queries
from workflow.core import chain
from workflow.core.audit import record_security_event
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.dashboard.export import neutralise
from workflow.models import AuditLog, SecurityEvent, User

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ArchiveError(Exception):
    pass


def record_query(user: Any, filters: queries.Filters) -> None:
    begin_write()
    record_security_event(
        "audit_query",
        user=user,
        outcome="success",
        object=f"log:{filters.log}",
        detail=filters.as_dict(),
    )
    db.session.commit()


def export_xlsx(user: Any, filters: queries.Filters) -> bytes:
    """The filtered rows as .xlsx; the export is itself a security event (same commit)."""
    header, rows = queries.table(filters)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = queries.LOGS[filters.log][:31]
    ws.append(header)
    for row in rows:
        ws.append([neutralise(v) for v in row])
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    begin_write()
    record_security_event(
        "audit_export",
        user=user,
        outcome="success",
        object=f"log:{filters.log}",
        detail={**filters.as_dict(), "rows": len(rows)},
    )
    db.session.commit()
    return out.getvalue()


# --- verification ----------------------------------------------------------------------------


def verify(*, record: bool = True) -> list[chain.Break]:
    breaks = chain.verify(db.session())
    if record:
        begin_write()
        record_security_event(
            "audit_verify",
            user=None,
            username="命令行",
            outcome="failure" if breaks else "success",
            detail={"breaks": [b.describe() for b in breaks]} if breaks else None,
        )
        db.session.commit()
    return breaks


# --- archiving -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveResult:
    counts: dict[str, int]
    path: Path


def _drop_triggers(conn: Any, table: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    else:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_update")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_delete")


def _restore_triggers(conn: Any, table: str) -> None:
    from workflow.models import audit as audit_model
    from workflow.models import security as security_model

    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        return
    module = audit_model if table == "audit_log" else security_model
    for sql in module.SQLITE_TRIGGERS:
        conn.exec_driver_sql(sql)


def _export(
    session: Session, cutoff: datetime, before: date, out: Path, counts: dict[str, int]
) -> list[dict[str, Any]]:
    """Write the rows to archive (whole chain prefixes) to ``out``; return one anchor each."""
    anchors: list[dict[str, Any]] = []
    with out.open("w", encoding="utf-8") as fh:
        for cls in (AuditLog, SecurityEvent):
            table = cls.__table__
            younger = session.scalar(
                select(func.min(table.c.seq)).where(table.c.created_at >= cutoff)
            )
            last = session.scalar(select(func.max(table.c.seq)))
            counts[table.name] = 0
            if last is None:
                continue
            cut = (younger - 1) if younger is not None else last
            old = (
                session.execute(select(table).where(table.c.seq <= cut).order_by(table.c.seq))
                .mappings()
                .all()
            )
            counts[table.name] = len(old)
            if not old:
                continue
            for row in old:
                record = {"table": table.name, "row": {k: chain._value(v) for k, v in row.items()}}
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            anchors.append(
                {
                    "table": table.name,
                    "last_seq": int(old[-1]["seq"]),
                    "last_chain": str(old[-1]["chain"]),
                    "rows": len(old),
                    "before": before.isoformat(),
                    "file": out.name,
                }
            )
    return anchors


def archive(before: date, out: Path, *, today: date | None = None) -> ArchiveResult:
    """Export, then delete, the log rows written before ``before``; ``before`` may be no later
    than today minus the retention."""
    retention = int(current_app.config["AUDIT_RETENTION_DAYS"])
    today = today or datetime.now(UTC).date()
    latest = today - timedelta(days=retention)
    if before > latest:
        raise ArchiveError(
            f"只能归档 {retention} 天以前的记录：--before 不能晚于 {latest.isoformat()}"
        )
    breaks = chain.verify(db.session())
    db.session.rollback()
    if breaks:
        raise ArchiveError("审计链已断，先查明再归档：" + "；".join(b.describe() for b in breaks))
    cutoff = datetime.combine(before, time.min, tzinfo=UTC)
    owner_url = current_app.config.get("AUDIT_OWNER_DATABASE_URL")
    engine = create_engine(owner_url) if owner_url else db.engine
    if owner_url:
        from workflow.core.database import configure_engine

        configure_engine(engine)
    counts: dict[str, int] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        engine.connect() as raw,
        raw.execution_options(sqlite_begin_immediate=True) as conn,
        conn.begin(),
    ):
        session = Session(bind=conn)
        anchors = _export(session, cutoff, before, out, counts)
        for anchor in anchors:
            record_security_event(
                chain.ANCHOR_KIND,
                user=None,
                username="命令行",
                outcome="success",
                object=f"table:{anchor['table']}",
                detail=anchor,
                session=session,
            )
        session.flush()
        for anchor in anchors:
            table = (AuditLog if anchor["table"] == "audit_log" else SecurityEvent).__table__
            _drop_triggers(conn, table.name)
            conn.execute(table.delete().where(table.c.seq <= anchor["last_seq"]))
            _restore_triggers(conn, table.name)
        session.close()
    if engine is not db.engine:
        engine.dispose()
    return ArchiveResult(counts, out)


def known_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))
