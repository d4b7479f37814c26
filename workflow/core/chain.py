"""Tamper evidence for the audit log and the security-event log: an HMAC-SM3 chain.

Every row of ``audit_log`` and ``security_events`` carries ``seq`` (gap-free per table) and
``chain`` = HMAC-SM3(AUDIT_HMAC_KEY, previous row's chain || canonical row), computed in the
insert path: a ``before_flush`` hook on every session, so that no caller can forget it and
the row is chained in the transaction that writes it. Writers are serialised per table while
they read the head and insert (``pg_advisory_xact_lock`` on PostgreSQL; SQLite writes begin
IMMEDIATE and hold the single write lock already).

``verify`` walks a table in ``seq`` order and names the first row whose content was changed,
that follows a deleted row, or that was inserted without the key. The append-only triggers
stop the application and careless operators; the chain catches whoever switched them off.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, event, select, text
from sqlalchemy.orm import Session

from workflow.core import crypto
from workflow.models import AuditLog, SecurityEvent, utcnow

CHAINED = (AuditLog, SecurityEvent)
# pg_advisory_xact_lock keys, one per chained table (any constant the app uses nowhere else).
LOCK_KEYS = {"audit_log": 7_140_001, "security_events": 7_140_002}
CANONICAL_VERSION = "v1"
# Archived prefixes leave an anchor in the security log (see archive), so that the verifier
# can start a shortened chain where the archive ended, and nobody can cut rows off the front.
ANCHOR_KIND = "audit_archive"


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def canonical(table: Table, row: Mapping[str, Any]) -> bytes:
    """The signed form of a row: every column but ``id`` and ``chain``, JSON with sorted keys,
    no spaces, UTC timestamps with microseconds, and the canonical form's version."""
    content = {
        col.name: _value(row[col.name]) for col in table.columns if col.name not in ("id", "chain")
    }
    content["_v"] = CANONICAL_VERSION
    content["_t"] = table.name
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def link(prev: str, table: Table, row: Mapping[str, Any], key: bytes | None = None) -> str:
    return crypto.hmac_sm3(
        key or crypto.audit_key(), prev.encode() + b"|" + canonical(table, row)
    ).hex()


def _fill_defaults(obj: Any, table: Table) -> None:
    """Apply the columns' Python defaults now: the chain covers the values as stored."""
    for col in table.columns:
        if col.name in ("id", "seq", "chain") or getattr(obj, col.key, None) is not None:
            continue
        if col.name == "created_at":
            setattr(obj, col.key, utcnow())
        elif col.default is not None and getattr(col.default, "is_scalar", False):
            setattr(obj, col.key, col.default.arg)


def _head(session: Session, table: Table) -> tuple[int, str]:
    row = session.execute(
        select(table.c.seq, table.c.chain).order_by(table.c.seq.desc()).limit(1)
    ).first()
    if row is None:
        return 0, ""
    return int(row.seq), str(row.chain)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    pending: dict[type, list[Any]] = {}
    for obj in session.new:  # in the order they were added
        if isinstance(obj, CHAINED) and getattr(obj, "chain", None) is None:
            pending.setdefault(type(obj), []).append(obj)
    for cls, objs in pending.items():
        table: Table = cls.__table__
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEYS[table.name]}
            )
        seq, prev = _head(session, table)
        for obj in objs:
            _fill_defaults(obj, table)
            seq += 1
            obj.seq = seq
            values = {col.name: getattr(obj, col.key) for col in table.columns}
            obj.chain = prev = link(prev, table, values)


_installed = False


def install() -> None:
    """Chain every audit and security row any session inserts (once per process)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _before_flush)
        _installed = True


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    table: str
    row_id: int | None
    seq: int | None
    problem: str

    def describe(self) -> str:
        return f"{self.table} 第一处断链：id={self.row_id} seq={self.seq}：{self.problem}"


def _rows(session: Session, table: Table) -> Iterator[Mapping[str, Any]]:
    result = session.execute(select(table).order_by(table.c.seq, table.c.id))
    yield from result.mappings()


def _anchor(session: Session, table_name: str, before_seq: int) -> str | None:
    """The chain value the archive recorded for the row just before ``before_seq``."""
    events = SecurityEvent.__table__
    for (detail,) in session.execute(
        select(events.c.detail).where(events.c.kind == ANCHOR_KIND).order_by(events.c.seq.desc())
    ):
        if (
            isinstance(detail, dict)
            and detail.get("table") == table_name
            and detail.get("last_seq") == before_seq
        ):
            return str(detail.get("last_chain") or "")
    return None


def verify_rows(
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    start: tuple[int, str] = (0, ""),
    key: bytes | None = None,
) -> Break | None:
    expected_seq, prev = start
    for row in rows:
        expected_seq += 1
        if row["seq"] != expected_seq:
            problem = (
                f"序号应为 {expected_seq}，实为 {row['seq']}（之前的行被删除）"
                if row["seq"] > expected_seq
                else f"序号 {row['seq']} 重复或倒序（有行被插入）"
            )
            return Break(table.name, row["id"], row["seq"], problem)
        if not crypto.constant_time_equal(link(prev, table, row, key), str(row["chain"] or "")):
            return Break(table.name, row["id"], row["seq"], "内容与链值不符（被修改或无密钥插入）")
        prev = str(row["chain"])
    return None


def verify(session: Session, tables: Iterable[Table] | None = None) -> list[Break]:
    """The first break of each chained table (an empty list: every chain is intact)."""
    breaks = []
    for table in tables or (cls.__table__ for cls in CHAINED):
        first = session.execute(select(table.c.seq).order_by(table.c.seq).limit(1)).scalar()
        start = (0, "")
        if first is not None and first > 1:
            anchored = _anchor(session, table.name, first - 1)
            if anchored is None:
                breaks.append(
                    Break(
                        table.name,
                        None,
                        first,
                        f"链从序号 {first} 开始，前面的行无归档记录（被删除）",
                    )
                )
                continue
            start = (first - 1, anchored)
        found = verify_rows(table, _rows(session, table), start)
        if found is not None:
            breaks.append(found)
    return breaks
