"""The append-only audit log: one row for every change of state.

The database itself refuses UPDATE and DELETE on it (triggers on SQLite and PostgreSQL), so
that not even a bug or an operator with SQL access can rewrite history quietly; and every row
carries an HMAC-SM3 chain value over its content and the row before it (``seq``, ``chain``;
computed in the insert path, workflow/core/chain.py), so that whoever switches the triggers
off is still found out by ``flask audit verify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, BigInteger, DateTime, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.models.user import User, utcnow


class AuditLog(db.Model):  # type: ignore[name-defined]
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="RESTRICT"), index=True
    )
    # A change of a project's targets (绩效目标) names them instead of an evaluation.
    targets_id: Mapped[int | None] = mapped_column(ForeignKey("project_targets.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int | None] = mapped_column(Integer)
    org_name: Mapped[str] = mapped_column(String(200), default="")
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    # Totals and grades of every stage at that moment, and the rows that changed with reasons.
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    # Tamper evidence: position in the chain (gap-free) and HMAC-SM3(key, canonical row ||
    # previous chain value), hex. Set by the insert path, never by callers.
    seq: Mapped[int] = mapped_column(BigInteger, index=True, unique=True)
    chain: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship()


SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)

for _sql in SQLITE_TRIGGERS:
    event.listen(AuditLog.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(AuditLog.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql"))
