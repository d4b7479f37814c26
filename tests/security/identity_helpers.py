"""Shared bits of the identity tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.conftest import SEAL_PEM
from workflow.core.extensions import db
from workflow.models import AuditLog, User


def get_user(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None
        db.session.expunge(user)
        return user


def set_user(app: Flask, username: str, **values: Any) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


def events(app: Flask, event: str) -> list[AuditLog]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditLog).where(AuditLog.event == event)))
        for row in rows:
            db.session.expunge(row)
        return rows


def production_config(tmp: Path, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "ENV_NAME": "production",
        "SECRET_KEY": "Zq8-vT3kW9pL2xN7rB5mC1hJ6yD4sF0gA",
        "TRUSTED_HOSTS": ["jixiao.example.gov.cn"],
        "CLAMD_ADDRESS": "unix:/nonexistent/clamd.sock",
        "SESSION_COOKIE_SECURE": True,
        "VAR_DIR": str(tmp),
        "PDF_DIR": str(tmp / "p"),
        "EVIDENCE_DIR": str(tmp / "e"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/prod.db",
        # The 密评 keys production insists on (their own checks: tests/security/test_field_crypto.py).
        "AUDIT_HMAC_KEY": "k7Qw-2xR9vL4pT8mN3bZ6cJ1hF5sD0gY-aE",
        "FIELD_KEYRING": '{"active": "p1", "keys": {"p1": "8c1f2a9d4e7b6035a1c9e8d7f6b5a493"}}',
        "SEAL_PRIVATE_KEY": SEAL_PEM,
    }
    config.update(extra)
    return config
