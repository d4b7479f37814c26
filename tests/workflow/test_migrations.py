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


def _triggers(url: str) -> set[tuple[str, ...]]:
    """Every trigger with its definition, and on PostgreSQL every function's source."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            )
            found = {(name, " ".join(sql.split())) for name, sql in rows}
        else:
            rows = conn.execute(
                sa.text(
                    "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT tgisinternal"
                    " UNION ALL SELECT proname, prosrc FROM pg_proc p JOIN pg_namespace n"
                    " ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
                )
            )
            found = {(name, " ".join(text_.split())) for name, text_ in rows}
    engine.dispose()
    return found


def test_the_migrations_make_the_models_triggers(empty_url: str, tmp_path: Path) -> None:
    """The triggers (kept counts and their generations, org_generation, the append-only log)
    are written twice, in the models and frozen in the migrations: both make the same."""
    app = create_app(_config(tmp_path, empty_url))
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    if empty_url.startswith("sqlite"):
        built_url = f"sqlite:///{tmp_path / 'built.sqlite3'}"
        name = None
    else:
        name = f"jixiao_mig_{uuid.uuid4().hex[:10]}"
        _pg_exec(f'CREATE DATABASE "{name}"')
        built_url = _pg_url(name)
    try:
        built = create_app(_config(tmp_path, built_url))
        with built.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()
        migrated, made = _triggers(empty_url), _triggers(built_url)
        assert any("evaluation_counts_touch" in t[0] for t in made)
        assert migrated == made, migrated ^ made
    finally:
        if name:
            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
