"""Users, their role and the organisation they act for."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String
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
            "'sysadmin', 'secadmin', 'auditor')",
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
    # Set when an administrator sets the password: the owner must choose a new one at the
    # next login before any other page opens (the administrator knew the old one).
    must_change_password: Mapped[bool] = mapped_column(default=False)

    org: Mapped[Org] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.rotate_session()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def rotate_session(self) -> None:
        self.session_token = secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


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
    must_change_password: bool = False


# Whoever acts: the ORM row (CLI, tests, the login request) or the request's SessionUser.
Actor = User | SessionUser
