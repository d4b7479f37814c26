"""Migration 0012 encrypts the TOTP secrets already stored (密评 8.4 e), and its downgrade
gives them back in clear, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from tests.conftest import _config
from tests.workflow.test_migrations import empty_url  # noqa: F401 - the fixture
from workflow import create_app
from workflow.auth import totp
from workflow.core.extensions import db
from workflow.models import User

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _raw(username: str) -> str:
    return db.session.execute(
        sa.text("SELECT totp_secret FROM users WHERE username = :u"), {"u": username}
    ).scalar()


def _insert_user(username: str, org_id: int, secret: str | None) -> None:
    """A user row as 0006 stores it: every NOT NULL column without a default filled."""
    from datetime import UTC, datetime

    given = {"username": username, "name": username, "role": "finance", "org_id": org_id,
             "password_hash": "x", "session_token": username, "totp_secret": secret}  # fmt: skip
    for col in sa.inspect(db.engine).get_columns("users"):
        if col["name"] in given or col["nullable"] or col.get("autoincrement") is True:
            continue
        if col["name"] == "id":
            continue
        kind = str(col["type"]).upper()
        if "BOOL" in kind:
            given[col["name"]] = False
        elif "INT" in kind:
            given[col["name"]] = 0
        elif "DATE" in kind or "TIME" in kind:
            given[col["name"]] = datetime.now(UTC)
        else:
            given[col["name"]] = ""
    names = ", ".join(given)
    values = ", ".join(f":{k}" for k in given)
    db.session.execute(sa.text(f"INSERT INTO users ({names}) VALUES ({values})"), given)


def test_existing_secrets_encrypted_and_back(empty_url: str, tmp_path: Path) -> None:  # noqa: F811
    app = create_app(_config(tmp_path, empty_url))
    with app.app_context():
        upgrade(revision="0006")
        db.session.execute(
            sa.text("INSERT INTO orgs (name, kind, active) VALUES ('财政厅', 'finance', true)")
        )
        org_id = db.session.execute(sa.text("SELECT id FROM orgs")).scalar()
        for name, secret in (("finance", SECRET), ("nosecret", None)):
            _insert_user(name, org_id, secret)
        db.session.commit()
        upgrade()
        stored = _raw("finance")
        assert stored.startswith("sm4gcm:") and SECRET not in stored
        assert _raw("nosecret") is None
        user = db.session.scalar(sa.select(User).where(User.username == "finance"))
        assert user.totp_secret == SECRET and totp.verify(SECRET, totp.code_at(SECRET), None)
        db.session.rollback()
        downgrade(revision="0006")
        assert _raw("finance") == SECRET
        db.session.remove()
        db.engine.dispose()
