"""A Hypothesis state machine: random events by random users on real evaluations.

Invariants: audit rows = successful events; self scores never change while the evaluation
is past draft; the stored totals equal the totals recomputed from the stored rows.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select

import scoring
from tests.conftest import make_sqlite_app
from tests.workflow.helpers import user
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.machine import Event
from workflow.models import AuditLog, Evaluation

USERS = [
    "unit_a",
    "unit_a_head",
    "unit_b",
    "unit_c",
    "reviewer",
    "reviewer_2",
    "finance",
    "sysadmin",
]
REASONS = st.sampled_from([None, "", "需补充材料"])


@pytest.fixture
def stateful_template(sqlite_template, tmp_path):  # type: ignore[no-untyped-def]
    return sqlite_template, tmp_path


def test_random_events_keep_the_invariants(stateful_template) -> None:  # type: ignore[no-untyped-def]
    template, tmp_path = stateful_template
    counter = {"n": 0}

    class Workflow(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            counter["n"] += 1
            run_dir = tmp_path / f"run{counter['n']}"
            run_dir.mkdir()
            self.app: Flask = make_sqlite_app(template, run_dir)
            self.ctx = self.app.app_context()
            self.ctx.push()
            self.ids = list(db.session.scalars(select(Evaluation.id).order_by(Evaluation.id)))
            self.base_audit = db.session.scalar(select(func.count()).select_from(AuditLog))
            self.successes = 0
            self.frozen: dict[int, dict[str, Decimal | None]] = {}

        def teardown(self) -> None:
            db.session.remove()
            db.engine.dispose()
            self.ctx.pop()

        @rule(
            index=st.integers(0, 7),
            event=st.sampled_from(list(Event)),
            username=st.sampled_from(USERS),
            reason=REASONS,
            cut=st.sampled_from([None, Decimal("0.5"), Decimal("1")]),
        )
        def fire(
            self, index: int, event: Event, username: str, reason: str | None, cut: Decimal | None
        ) -> None:
            ev_id = self.ids[index % len(self.ids)]
            scores = None
            if cut is not None and event in (Event.APPROVE, Event.CONFIRM):
                ev = db.session.get(Evaluation, ev_id)
                row = next((r for r in ev.rows if r.weight >= 2), None)
                base = (
                    (row.dept_score if event is Event.CONFIRM else row.self_score) if row else None
                )
                if row is not None and base is not None and base >= cut:
                    scores = {row.code: operations.ScoreChange(base - cut, reason or "")}
            try:
                operations.fire(user(username), ev_id, event, reason=reason, scores=scores)
            except operations.OperationError:
                db.session.rollback()
            else:
                self.successes += 1
            ev = db.session.get(Evaluation, ev_id)
            if ev.state == "draft":
                self.frozen.pop(ev_id, None)
            elif ev_id not in self.frozen:
                self.frozen[ev_id] = {r.code: r.self_score for r in ev.rows}

        @invariant()
        def audit_rows_equal_successful_events(self) -> None:
            count = db.session.scalar(select(func.count()).select_from(AuditLog))
            assert count - self.base_audit == self.successes

        @invariant()
        def self_scores_frozen_after_submit(self) -> None:
            for ev_id, frozen in self.frozen.items():
                ev = db.session.get(Evaluation, ev_id)
                assert {r.code: r.self_score for r in ev.rows} == frozen

        @invariant()
        def stored_totals_equal_recomputed(self) -> None:
            for ev in db.session.scalars(select(Evaluation)):
                scheme = scoring.scheme_from_dict(ev.scheme)
                for column in ("self", "dept", "final"):
                    total = getattr(ev, f"{column}_total")
                    if total is None:
                        continue
                    recomputed = scoring.stage_total(
                        scheme, {r.code: getattr(r, f"{column}_score") for r in ev.rows}
                    )
                    assert total == recomputed, (ev.id, column)
                    assert getattr(ev, f"{column}_grade") == scoring.grade_for(total)

    Workflow.TestCase.settings = settings(
        max_examples=15,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    Workflow.TestCase().runTest()
