"""Least privilege on the real PostgreSQL: the init script's two roles in a fresh database,
migrations as the owner, the app as the app role (a submit works), and the app role can
neither switch the audit trigger off nor UPDATE the audit log."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from task_live_helpers import PG_ADMIN_URL, ROOT, _pg_exec

from tests.conftest import _config
from workflow import create_app
from workflow.core.extensions import db

pytestmark = pytest.mark.integration
INIT_SQL = ROOT / "docker" / "postgres-init" / "10-roles.sql"


def _url(user: str, password: str, name: str) -> str:
    base = sa.make_url(PG_ADMIN_URL)
    return str(base.set(username=user, password=password, database=name).render_as_string(False))


@pytest.fixture
def roles_db() -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    found = {
        "db": f"jixiao_roles_{tag}",
        "owner": f"jixiao_owner_{tag}",
        "app": f"jixiao_app_{tag}",
        "owner_pw": uuid.uuid4().hex,
        "app_pw": uuid.uuid4().hex,
    }
    _pg_exec(f'CREATE DATABASE "{found["db"]}"')
    try:
        yield found
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{found["db"]}" WITH (FORCE)')
        for role in (found["app"], found["owner"]):
            _pg_exec(f'DROP ROLE IF EXISTS "{role}"')


def test_app_role_is_least_privilege(roles_db: dict[str, str], tmp_path: Path) -> None:
    admin = sa.make_url(PG_ADMIN_URL)
    # The image's entrypoint runs the script with psql as the bootstrap superuser.
    subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-h",
            admin.host or "127.0.0.1",
            "-p",
            str(admin.port or 5432),
            "-U",
            admin.username or "postgres",
            "-d",
            roles_db["db"],
            "-f",
            str(INIT_SQL),
        ],
        env={
            **os.environ,
            "DB_OWNER_ROLE": roles_db["owner"],
            "DB_OWNER_PASSWORD": roles_db["owner_pw"],
            "DB_APP_ROLE": roles_db["app"],
            "DB_APP_PASSWORD": roles_db["app_pw"],
        },
        check=True,
        capture_output=True,
        timeout=60,
    )
    owner_url = _url(roles_db["owner"], roles_db["owner_pw"], roles_db["db"])
    app_url = _url(roles_db["app"], roles_db["app_pw"], roles_db["db"])

    # Migrations and the grants as the owner (what the migrate service runs).
    owner_app = create_app(_config(tmp_path, owner_url))
    result = owner_app.test_cli_runner().invoke(args=["init-db", "--app-role", roles_db["app"]])
    assert result.exit_code == 0, result.output + repr(result.exception)
    with owner_app.app_context():
        from task_world import build_world

        w = build_world(state="draft")
        ids = (w.evaluation.id, w.staff.id)
        from scoring.schemes import scheme_from_dict
        from workflow.admin.cli import seed_entries

        w.evaluation.entries = seed_entries(scheme_from_dict(w.evaluation.scheme))[0]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    engine = sa.create_engine(app_url)
    try:
        with engine.connect() as conn:
            assert (
                conn.scalar(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
                is False
            )
            owned = conn.scalar(
                sa.text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
            )
            assert owned == 0
            assert (
                conn.scalar(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
                > 10
            )
    finally:
        engine.dispose()

    # The app as the app role: a submit works (audit row, outbox rows, counts trigger).
    app = create_app(_config(tmp_path, app_url))
    with app.app_context():
        from workflow.evaluations import operations
        from workflow.models import AuditLog, OutboxMessage, User

        staff = db.session.get(User, ids[1])
        operations.fire(staff, ids[0], "submit")
        assert db.session.query(AuditLog).filter_by(event="submit").count() == 1
        assert db.session.query(OutboxMessage).count() == 2
        db.session.remove()
        db.engine.dispose()

    refused = {
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update": "must be owner",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL": "must be owner",
        "UPDATE audit_log SET reason = 'rewritten'": "permission denied",
        "DELETE FROM audit_log": "permission denied",
        "TRUNCATE audit_log": "permission denied",
        "DROP TABLE outbox": "must be owner",
        "CREATE TABLE intruder (id int)": "permission denied",
    }
    engine = sa.create_engine(app_url)
    try:
        for statement, message in refused.items():
            with engine.connect() as conn:
                with pytest.raises(sa.exc.ProgrammingError) as caught:
                    conn.exec_driver_sql(statement)
                assert message in str(caught.value), statement
                conn.rollback()
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM audit_log")) == 1
    finally:
        engine.dispose()
