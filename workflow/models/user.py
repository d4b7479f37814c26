"""Users, their role and the organisation they act for."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from workflow.core.extensions import db
from workflow.machine import ADMIN_ROLES, ROLE_LABELS, Role
from workflow.models.org import Org
from workflow.models.types import EncryptedText


def utcnow() -> datetime:
    return datetime.now(UTC)


class Signed(UserMixin):
    """What Flask-Login and the pages ask of whoever signs in, from its id, session token,
    active flag and role: the ORM row (``User``) and the request's ``SessionUser`` alike
    (each has those four attributes)."""

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[Role(self.role)]

    @property
    def is_administrator(self) -> bool:
        return Role(self.role) in ADMIN_ROLES


class User(Signed, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('unit_staff', 'unit_head', 'reviewer', 'finance', "
            "'sysadmin', 'secadmin', 'auditor', 'expert')",
            name="role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Personal data, SM4-GCM at rest (models/types.py); shown masked where not needed in full.
    email: Mapped[str | None] = mapped_column(EncryptedText("users.email"))
    phone: Mapped[str | None] = mapped_column(EncryptedText("users.phone"))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the session identity: rotating it (logout, password change, disable) makes
    # every cookie issued before useless.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Password age and the change forced at first login and after a reset (身份鉴别 a).
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Login-failure handling (身份鉴别 b): consecutive failures of the password or of the
    # second factor, and the time the lock ends.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    totp_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The second factor (身份鉴别 d): the TOTP secret (base32; SM4-GCM at rest like the
    # other secrets of the account, 密评 8.4 e), when it was confirmed, the last time step
    # accepted (a code is good once), and the hashes of the unused recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("users.totp_secret"))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    recovery_codes: Mapped[list[str] | None] = mapped_column(JSON)

    org: Mapped[Org] = relationship()

    def set_password(self, password: str, *, forced_change: bool = False) -> None:
        """Store a new password hash, keep the old one in the history, end every session.
        ``forced_change`` marks a password someone else chose (a reset, a new account):
        its owner must change it at the next login."""
        if self.password_hash:
            self.history.append(PasswordHistory(password_hash=self.password_hash))
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.password_changed_at = utcnow()
        self.must_change_password = forced_change
        self.rotate_session()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def rotate_session(self) -> None:
        self.session_token = secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_secret and self.totp_enabled_at)

    history: Mapped[list[PasswordHistory]] = relationship(
        order_by="PasswordHistory.id.desc()", cascade="all, delete-orphan"
    )


# 身份标识唯一: "Admin" and "admin" would be two accounts for one name, so the database
# keeps usernames unique regardless of case (migration 0005 creates the same index).
Index("uq_users_username_lower", func.lower(User.__table__.c.username), unique=True)


class PasswordHistory(db.Model):  # type: ignore[name-defined]
    """Earlier password hashes of a user: a new password may be none of the last few."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True, slots=True)
class OrgRef:
    """The signed-in user's organisation as a request sees it."""

    id: int
    name: str
    kind: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class SessionUser(Signed):
    """The signed-in user as every request loads it: one row of users joined to its
    organisation, read with plain Core, not an ORM entity. Pages and the workflow read these
    attributes only; code that changes the user (logout, password) loads the ``User`` row in
    its write transaction. Building an ORM instance with its organisation cost twice the
    statement itself on every page."""

    id: int
    username: str
    name: str
    email: str | None
    role: str
    org_id: int
    active: bool
    session_token: str
    org: OrgRef
    password_changed_at: datetime | None = None
    must_change_password: bool = False


# Whoever acts: the ORM row (CLI, tests, the login request) or the request's SessionUser.
Actor = User | SessionUser
