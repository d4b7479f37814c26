"""Security records: the security-event log, administrator requests and evaluation seals.

``security_events`` is append-only like ``audit_log`` (the same triggers) and chained the same
way (``seq``, ``chain``; workflow/core/chain.py). ``admin_requests`` holds the requests to
create an administrator until a second administrator approves or rejects them.
``evaluation_seals`` keeps the SM2 signature over each confirmed evaluation's scores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from workflow.core.extensions import db
from workflow.models.user import utcnow


class SecurityEvent(db.Model):  # type: ignore[name-defined]
    """One security event (GB/T 22239 §8.1.4.3): login, failed login, lockout, logout,
    timeout, denied request, administrator action, export, download, audit query."""

    __tablename__ = "security_events"
    __table_args__ = (
        CheckConstraint("outcome IN ('success', 'failure', 'denied')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    kind: Mapped[str] = mapped_column(String(40), index=True)
    outcome: Mapped[str] = mapped_column(String(10))
    # Who: the account (none for an unknown username), its name and role at that moment.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    username: Mapped[str] = mapped_column(String(64), default="", index=True)
    role: Mapped[str] = mapped_column(String(20), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # What it was about, e.g. "evaluation:12", "user:7", "/evaluations/12/pdf".
    object: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seq: Mapped[int] = mapped_column(BigInteger, index=True, unique=True)
    chain: Mapped[str] = mapped_column(String(64))


class AdminRequest(db.Model):  # type: ignore[name-defined]
    """A request by one administrator to create an administrator account; a second, other
    administrator approves (the account is created then) or rejects it."""

    __tablename__ = "admin_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="two"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class EvaluationSeal(db.Model):  # type: ignore[name-defined]
    """The SM2 signature over a confirmed evaluation's canonical score snapshot."""

    __tablename__ = "evaluation_seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the signed bytes
    signature: Mapped[str] = mapped_column(Text)  # base64 DER
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


SQLITE_TRIGGERS = (
    "CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END",
    "CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION security_events_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'security_events is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER security_events_no_update BEFORE UPDATE OR DELETE ON security_events "
    "FOR EACH ROW EXECUTE FUNCTION security_events_append_only()",
    "CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only()",
)

for _sql in SQLITE_TRIGGERS:
    event.listen(SecurityEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(
        SecurityEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql")
    )
