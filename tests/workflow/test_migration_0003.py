"""Migration 0003 turns every evaluation's frozen scheme into framework plus targets without
changing a stored score: a database at 0002 holding the demo world (evaluations in every
state) is upgraded, and every total, grade and per-indicator score is compared, and every
compiled scheme against the snapshot it replaces."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import select, update

from tests.conftest import _config, _pg_exec, _pg_url
from tests.workflow.legacy_world import fill_from_template
from workflow import create_app
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.models import Evaluation, EvaluationCount, IndicatorScore, SchemeSnapshot, TargetSet


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'at-0002.sqlite3'}"
        return
    name = f"jixiao_m3_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _stored() -> dict[int, Any]:
    ev = sa.table(
        "evaluations",
        *(
            sa.column(c)
            for c in (
                "id",
                "state",
                "self_total",
                "self_grade",
                "dept_total",
                "dept_grade",
                "final_total",
                "final_grade",
                "scheme_id",
            )
        ),
    )
    rows = sa.table(
        "indicator_scores",
        *(
            sa.column(c)
            for c in (
                "evaluation_id",
                "code",
                "weight",
                "applicable",
                "self_score",
                "dept_score",
                "final_score",
            )
        ),
    )
    out: dict[int, Any] = {}
    for r in db.session.execute(sa.select(ev)):
        out[r.id] = {"evaluation": tuple(r), "rows": {}}
    for r in db.session.execute(sa.select(rows)):
        out[r.evaluation_id]["rows"][r.code] = tuple(r)
    return out


def test_upgrade_keeps_every_score_and_compiles_the_old_scheme(
    url: str, tmp_path: Path, sqlite_template: Path
) -> None:
    app = create_app(_config(tmp_path, url))
    with app.app_context():
        upgrade(revision="0002")
        fill_from_template(sqlite_template)
        before = _stored()
        assert {v["evaluation"][1] for v in before.values()} == {
            "draft",
            "self_scored",
            "dept_review",
            "finance_confirmation",
            "confirmed",
        }
        snapshots = {s.id: s.content for s in db.session.scalars(select(SchemeSnapshot))}
        db.session.remove()
        upgrade()
        assert _stored() == before  # no total, grade or indicator score touched
        evaluations = db.session.scalars(select(Evaluation)).all()
        assert len(evaluations) == len(before) == 8
        for evaluation in evaluations:
            assert evaluation.framework_id is not None
            assert evaluation.target_version is not None
            assert evaluation.target_version.source == "migration"
            # The compiled scheme is the frozen one, exactly.
            assert evaluation.scheme == snapshots[evaluation.scheme_id]
            parsed = operations.scheme_of(evaluation)
            assert {i.code for i in parsed.indicators} == {r.code for r in evaluation.rows}
            # Scoring the entries again gives the stored self total where there is one.
            if evaluation.self_total is not None and evaluation.state != "draft":
                assert operations.scorecard(evaluation).total == evaluation.self_total
        # Each project's targets are approved, its version in force the evaluation's.
        for targets in db.session.scalars(select(TargetSet)):
            assert targets.state == "approved"
            assert targets.current_version_id in {e.target_version_id for e in evaluations}
        # The cycle got its framework; evaluations of one framework share its row.
        assert len({e.framework_id for e in evaluations}) == 1
        # The counts' triggers and the audit log's append-only ones survived the upgrade.
        db.session.execute(update(Evaluation).values(state="confirmed"))
        db.session.commit()
        counts: dict[str, int] = {}
        for count in db.session.scalars(select(EvaluationCount)):
            if count.n:
                counts[count.state] = counts.get(count.state, 0) + count.n
        assert counts == {"confirmed": 8}
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text("DELETE FROM audit_log"))
        db.session.rollback()
        assert db.session.scalar(select(sa.func.count()).select_from(IndicatorScore)) > 0
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code == 0, result.output
        db.session.remove()
        db.engine.dispose()
