"""Migrations build an empty database on SQLite and PostgreSQL, with no drift from the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from tests.conftest import _config, _pg_exec, _pg_url
from workflow import create_app
from workflow.core.extensions import db


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"jixiao_mig_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_from_empty_then_no_drift(empty_url: str, tmp_path: Path) -> None:
    app = create_app(_config(tmp_path, empty_url))
    with app.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code == 0, result.output
        # The append-only triggers come with the migration too.
        db.session.execute(
            sa.text(
                "INSERT INTO audit_log (actor_name, role, org_name, event, created_at) "
                "VALUES ('x', 'admin', '', 'probe', CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("DELETE FROM audit_log"))
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_init_db_command_is_idempotent(tmp_path: Path) -> None:
    app = create_app(_config(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}"))
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()
