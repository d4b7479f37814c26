"""Issue 11 §4 on the demo world: every project has its own targets (the seed project keeps
the seed form's own indicators, no other project shows them), targets sit in every state,
the cycle's deadlines lie ahead of today, and every unit has its budget-system code."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import select

from workflow.core.extensions import db
from workflow.evaluations import operations as evaluation_ops
from workflow.models import Cycle, Evaluation, Org, TargetSet

SEED = "政务服务信息系统建设维护和迭代升级"
SEED_ONLY = "保障全省13个设区市政务服务子站点稳定运行"


def test_each_demo_project_has_its_own_targets_in_every_state(app: Flask) -> None:
    with app.app_context():
        sets = db.session.scalars(select(TargetSet)).all()
        assert {t.state for t in sets} == {"draft", "submitted", "approved", "returned"}
        assert any(t.pending_kind == "adjustment" or len(t.versions) > 1 for t in sets)
        names: dict[str, frozenset[str]] = {}
        for targets in sets:
            version = targets.current_version
            rows = version.targets().rows if version is not None else ()
            names[targets.project.name] = frozenset(r.name for r in rows)
        assert any(SEED_ONLY in n for n in names[SEED])
        others = {p: n for p, n in names.items() if p != SEED and n}
        assert len(others) >= 5
        assert all(not any(SEED_ONLY in x for x in n) for n in others.values())
        # No two approved projects share their indicator list.
        assert len(set(others.values())) == len(others)
        for evaluation in db.session.scalars(select(Evaluation)):
            scheme = evaluation_ops.scheme_of(evaluation)
            shown = {ind.path[2] for ind in scheme.indicators}
            if evaluation.project.name != SEED:
                assert not any(SEED_ONLY in s for s in shown), evaluation.project.name


def test_demo_deadlines_lie_ahead_and_units_have_codes(app: Flask) -> None:
    with app.app_context():
        cycle = db.session.scalar(select(Cycle))
        assert cycle is not None
        assert date.today() < cycle.deadline_submit < cycle.deadline_review
        assert cycle.deadline_review < cycle.deadline_confirm
        codes = {o.name: o.code for o in db.session.scalars(select(Org).where(Org.kind == "unit"))}
        assert all(codes.values()) and len(set(codes.values())) == len(codes)
