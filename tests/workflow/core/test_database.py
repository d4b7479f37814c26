"""Database-level guarantees on SQLite and PostgreSQL: the append-only audit log, the
constraints, the migrations, and exactly one winner when two people act at once."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select, text

from tests.workflow.helpers import in_state, seed_evaluation, user
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.models import AuditLog, Evaluation, IndicatorScore


def test_audit_log_refuses_update_and_delete(any_app: Flask) -> None:
    with any_app.app_context():
        row_id = db.session.scalar(select(AuditLog.id).limit(1))
        assert row_id is not None
        for sql in (
            "UPDATE audit_log SET reason = 'rewritten' WHERE id = :id",
            "DELETE FROM audit_log WHERE id = :id",
        ):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                db.session.execute(text(sql), {"id": row_id})
            db.session.rollback()
        assert db.session.get(AuditLog, row_id).reason != "rewritten"


def test_scores_outside_the_weight_are_refused(any_app: Flask) -> None:
    with any_app.app_context():
        row = db.session.scalar(select(IndicatorScore).limit(1))
        row.self_score = row.weight + Decimal("0.01")
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_one_evaluation_per_project_and_cycle(any_app: Flask) -> None:
    with any_app.app_context():
        ev = db.session.scalar(select(Evaluation).limit(1))
        dup = Evaluation(
            project_id=ev.project_id,
            cycle_id=ev.cycle_id,
            unit_id=ev.unit_id,
            department_id=ev.department_id,
            scheme=ev.scheme,
            entries={},
        )
        db.session.add(dup)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_foreign_keys_are_enforced(any_app: Flask) -> None:
    with any_app.app_context():
        ev = db.session.scalar(select(Evaluation).limit(1))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(
                text("UPDATE evaluations SET project_id = 999999 WHERE id = :id"), {"id": ev.id}
            )
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize("event", ["start_review", "withdraw"])
def test_two_people_at_once_exactly_one_wins(any_app: Flask, event: str) -> None:
    """Two threads fire on the same evaluation at the same moment, each in its own request
    context and database connection: one succeeds, the other gets the 409 conflict."""
    with any_app.app_context():
        ev = in_state("self_scored")[0]
        ev_id, version = ev.id, ev.version
    actors = {"start_review": ("reviewer", "reviewer"), "withdraw": ("unit_b", "unit_b")}[event]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def act(username: str, evt: str) -> None:
        with any_app.test_request_context():
            actor = user(username)
            barrier.wait()
            try:
                operations.fire(actor, ev_id, evt, expected_version=version)
                result = "ok"
            except operations.Conflict as exc:
                result = f"409:{exc.message}"
            except operations.OperationError as exc:
                result = f"{exc.status}:{exc.message}"
            finally:
                db.session.remove()
        with lock:
            outcomes.append(result)

    # One actor fires start_review, the other withdraw: both legal from self_scored.
    threads = [
        threading.Thread(target=act, args=(actors[0], event)),
        threading.Thread(
            target=act,
            args=(
                "unit_b" if event == "start_review" else "reviewer",
                "withdraw" if event == "start_review" else "start_review",
            ),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["409:已被他人处理，请刷新后重试", "ok"], outcomes
    with any_app.app_context():
        ev = db.session.get(Evaluation, ev_id)
        assert ev.version == version + 1
        rows = db.session.scalars(select(AuditLog).where(AuditLog.evaluation_id == ev_id)).all()
        assert rows[-1].version == ev.version


def test_unit_b_owns_a_self_scored_evaluation(app: Flask) -> None:
    # The concurrency test above relies on the demo world having one.
    with app.app_context():
        ev = in_state("self_scored")[0]
        assert ev.unit.name == "江苏省政务服务中心"
        assert seed_evaluation().state == "draft"
