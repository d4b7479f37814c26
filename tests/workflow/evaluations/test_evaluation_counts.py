"""The counts the database keeps per (department, cycle, state) (workflow/models/counts.py)
are always what a GROUP BY over the evaluations says, on SQLite and PostgreSQL: after the
workflow's own moves, bulk Core statements, a unit moved to another department, deletes, a
rolled-back change, two transactions moving evaluations of one department in opposite
directions at once, and a database upgraded from before the table existed."""

from __future__ import annotations

import random
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import delete, func, insert, select, update

from tests.conftest import _config, _pg_exec, _pg_url
from tests.workflow.helpers import in_state, user
from tests.workflow.legacy_world import fill_from_template
from workflow import create_app
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.machine import STATE_LABELS
from workflow.models import Evaluation, EvaluationCount, Org, Project

STATES = list(STATE_LABELS)


def _kept() -> dict[tuple[int, int, str], int]:
    rows = db.session.execute(
        select(
            EvaluationCount.department_id,
            EvaluationCount.cycle_id,
            EvaluationCount.state,
            EvaluationCount.n,
        )
    )
    return {(d, c, s): n for d, c, s, n in rows if n}


def _counted() -> dict[tuple[int, int, str], int]:
    ev = Evaluation.__table__
    rows = db.session.execute(
        select(ev.c.department_id, ev.c.cycle_id, ev.c.state, func.count()).group_by(
            ev.c.department_id, ev.c.cycle_id, ev.c.state
        )
    )
    return {(d, c, s): n for d, c, s, n in rows}


def _assert_kept() -> None:
    db.session.rollback()  # read what is committed, in a fresh transaction
    counted = _counted()
    assert counted, "the world has evaluations"
    assert _kept() == counted
    assert db.session.scalar(select(func.min(EvaluationCount.n))) >= 0


def test_the_demo_world_is_counted(any_app: Flask) -> None:
    with any_app.app_context():
        _assert_kept()


def test_every_kind_of_change_is_counted(any_app: Flask) -> None:
    rng = random.Random(7)
    with any_app.app_context():
        template = db.session.scalars(select(Evaluation)).first()
        assert template is not None
        units = db.session.scalars(select(Org).where(Org.kind == "unit")).all()
        departments = sorted({u.parent_id for u in units})
        # Many at once through Core, in every state.
        projects = [{"unit_id": rng.choice(units).id, "name": f"计数{i}"} for i in range(40)]
        ids = list(db.session.scalars(insert(Project).returning(Project.id), projects))
        rows = []
        for pid, p in zip(ids, projects, strict=True):
            unit = next(u for u in units if u.id == p["unit_id"])
            rows.append(
                {
                    "project_id": pid,
                    "cycle_id": template.cycle_id,
                    "unit_id": unit.id,
                    "department_id": unit.parent_id,
                    "state": rng.choice(STATES),
                    "version": 1,
                    "scheme_id": template.scheme_id,
                    "entries": {},
                }
            )
        db.session.execute(insert(Evaluation), rows)
        db.session.commit()
        _assert_kept()

        # One at a time through the ORM, as the workflow does.
        for ev in db.session.scalars(select(Evaluation).limit(15)).all():
            ev.state = rng.choice(STATES)
            ev.version += 1
        db.session.commit()
        _assert_kept()

        # A bulk move, and a change to columns the counts do not depend on.
        db.session.execute(
            update(Evaluation).where(Evaluation.state == "draft").values(state="self_scored")
        )
        db.session.execute(update(Evaluation).values(version=Evaluation.version + 1))
        db.session.commit()
        _assert_kept()

        # A unit's evaluations follow it to another department.
        moved = next(u for u in units if u.parent_id == departments[0])
        other = departments[-1] if len(departments) > 1 else departments[0]
        db.session.execute(
            update(Evaluation).where(Evaluation.unit_id == moved.id).values(department_id=other)
        )
        db.session.commit()
        _assert_kept()

        # A change that is rolled back leaves the counts as they were.
        before = _kept()
        db.session.execute(update(Evaluation).values(state="confirmed"))
        db.session.rollback()
        assert _kept() == before

        db.session.execute(delete(Evaluation).where(Evaluation.project_id.in_(ids[:20])))
        db.session.commit()
        _assert_kept()


def test_the_workflow_moves_are_counted(any_app: Flask) -> None:
    with any_app.app_context():
        ev = in_state("self_scored")[0]
        ev_id, version = ev.id, ev.version
        key = (ev.department_id, ev.cycle_id)
        before = _kept()
    with any_app.test_request_context():
        operations.fire(user("unit_b"), ev_id, "withdraw", expected_version=version)
        db.session.remove()
    with any_app.app_context():
        after = _kept()
        assert after.get((*key, "self_scored"), 0) == before.get((*key, "self_scored"), 0) - 1
        assert after.get((*key, "draft"), 0) == before.get((*key, "draft"), 0) + 1
        _assert_kept()


def test_opposite_moves_in_one_department_at_once(any_app: Flask) -> None:
    """Two connections move evaluations of one department between the same two states in
    opposite directions, in step, many times: each waits for the other's counts (on
    PostgreSQL the trigger takes both row locks smaller key first), none deadlocks or fails,
    and the counts come out right. Stress, not proof: the race it guards against lies
    between two statements of one trigger."""
    with any_app.app_context():
        ev = db.session.scalars(select(Evaluation)).first()
        assert ev is not None
        projects = [{"unit_id": ev.unit_id, "name": f"并发计数{i}"} for i in range(2)]
        ids = list(db.session.scalars(insert(Project).returning(Project.id), projects))
        pair = list(
            db.session.scalars(
                insert(Evaluation).returning(Evaluation.id),
                [
                    {
                        "project_id": pid,
                        "cycle_id": ev.cycle_id,
                        "unit_id": ev.unit_id,
                        "department_id": ev.department_id,
                        "state": state,
                        "version": 1,
                        "scheme_id": ev.scheme_id,
                        "entries": {},
                    }
                    for pid, state in zip(ids, ("draft", "self_scored"), strict=True)
                ],
            )
        )
        db.session.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def mover(ev_id: int, states: tuple[str, str]) -> None:
        with any_app.app_context():
            try:
                for i in range(60):
                    barrier.wait(30)
                    db.session.execute(
                        update(Evaluation)
                        .where(Evaluation.id == ev_id)
                        .values(state=states[(i + 1) % 2])
                    )
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                barrier.abort()
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=mover, args=(pair[0], ("draft", "self_scored"))),
        threading.Thread(target=mover, args=(pair[1], ("self_scored", "draft"))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with any_app.app_context():
        states = dict(
            db.session.execute(
                select(Evaluation.id, Evaluation.state).where(Evaluation.id.in_(pair))
            ).all()
        )
        assert states == {pair[0]: "draft", pair[1]: "self_scored"}  # 60 moves: back home
        _assert_kept()


def test_an_upgraded_database_counts_what_it_had(tmp_path: Path, sqlite_template: Path) -> None:
    """Migration 0002 fills the table from the evaluations already there, then keeps it."""
    name = f"jixiao_cnt_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    urls = [f"sqlite:///{tmp_path / 'old.sqlite3'}", _pg_url(name)]
    try:
        for url in urls:
            app = create_app(_config(tmp_path, url))
            with app.app_context():
                upgrade(revision="0001")
                # The demo world as it was stored at 0001 (the demo writes today's schema).
                fill_from_template(sqlite_template)
                assert db.session.scalar(select(func.count()).select_from(Evaluation)) == 8
                assert not sa.inspect(db.engine).has_table("evaluation_counts")
                db.session.remove()
                upgrade()
                _assert_kept()
                db.session.execute(update(Evaluation).values(state="confirmed"))
                db.session.commit()
                _assert_kept()
                db.session.remove()
                db.engine.dispose()
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("scope", ["reviewer", "finance"])
def test_the_lists_read_the_kept_counts(app: Flask, scope: str) -> None:
    """The department's and everybody's lists take their totals from the kept counts: a
    count changed behind the evaluations' back shows (which is why they must be right)."""
    from tests.workflow.pagehelpers import client_as

    client = client_as(app, scope)
    url = {"reviewer": "/review/?state=", "finance": "/evaluations/?state="}[scope]
    page = client.get(url).get_data(as_text=True)
    with app.app_context():
        total = sum(_counted().values()) if scope == "finance" else None
        reviewer = user("reviewer")
        if total is None:
            total = db.session.scalar(
                select(func.count()).where(Evaluation.department_id == reviewer.org_id)
            )
        assert f"共 {total} 份" in page
        db.session.execute(update(EvaluationCount).values(n=EvaluationCount.n + 1000))
        db.session.commit()
    again = client.get(url).get_data(as_text=True)
    assert f"共 {total} 份" not in again


def test_recount_repairs_counts_that_went_wrong(any_app: Flask) -> None:
    runner = any_app.test_cli_runner()
    result = runner.invoke(args=["evaluations", "recount"])
    assert result.exit_code == 0, result.output
    assert "计数与评价表一致" in result.output
    with any_app.app_context():
        first = db.session.scalars(select(EvaluationCount)).first()
        assert first is not None
        db.session.execute(
            update(EvaluationCount)
            .where(EvaluationCount.department_id == first.department_id)
            .values(n=EvaluationCount.n + 5)
        )
        db.session.execute(delete(EvaluationCount).where(EvaluationCount.state == "confirmed"))
        db.session.commit()
        assert _kept() != _counted()
        db.session.remove()
    result = runner.invoke(args=["evaluations", "recount"])
    assert result.exit_code == 0, result.output
    assert "已重新统计：更正了" in result.output
    with any_app.app_context():
        _assert_kept()


def test_the_upgrade_counts_a_write_still_open_on_postgresql(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """An old web process may be in the middle of a change while migration 0002 runs: the
    migration waits for it and counts it (without the table lock, the change fell between
    the count's snapshot and the triggers and was lost for good)."""
    name = f"jixiao_cnt_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    try:
        app = create_app(_config(tmp_path, _pg_url(name)))
        with app.app_context():
            upgrade(revision="0001")
            fill_from_template(sqlite_template)
            db.session.remove()
        other = sa.create_engine(_pg_url(name))
        errors: list[BaseException] = []
        try:
            with other.connect() as conn:
                moved = conn.execute(
                    update(Evaluation.__table__)
                    .where(Evaluation.__table__.c.state == "draft")
                    .values(state="confirmed")
                ).rowcount
                assert moved > 0

                def migrate() -> None:
                    try:
                        with app.app_context():
                            upgrade()
                            db.session.remove()
                    except BaseException as exc:  # noqa: BLE001 - reported below
                        errors.append(exc)

                thread = threading.Thread(target=migrate)
                thread.start()
                thread.join(1.5)
                assert thread.is_alive(), "the migration waits for the open change"
                conn.commit()
                thread.join(60)
        finally:
            other.dispose()
        assert not errors, errors
        with app.app_context():
            _assert_kept()
            db.session.remove()
            db.engine.dispose()
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
