"""The rules' data compiled to SQL says exactly what the Python rules say, on SQLite and on
PostgreSQL: the batch asks the database which rules fire, the pages ask Python."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import delete, select

from workflow.core.extensions import db
from workflow.models import Evaluation, RiskFacts
from workflow.rechecks import facts, risk


def _random_facts(rnd: random.Random) -> risk.Facts:
    def maybe(value):  # type: ignore[no-untyped-def]
        return None if rnd.random() < 0.15 else value

    total = Decimal(rnd.randint(5000, 10000)) / 100
    rows = rnd.randint(0, 6)
    return risk.Facts(
        self_total=maybe(total),
        dept_total=maybe(total - Decimal(rnd.randint(0, 900)) / 100),
        execution_rate=maybe(Decimal(rnd.randint(40, 100)) / 100),
        qualitative_rows=rows,
        qualitative_full=rnd.randint(0, rows),
        shortfall_full=rnd.choice([0, 0, 1]),
        over_no_reason=maybe(Decimal(rnd.randint(90, 160)) / 100),
        tier_mismatch=rnd.choice([0, 0, 2]),
        adjusted_on=None,
        adjusted_month=maybe(rnd.randint(1, 14)),
    )


def test_sql_and_python_agree(any_app: Flask) -> None:
    rnd = random.Random(16)
    limits = risk.Thresholds()
    with any_app.app_context():
        ev = db.session.scalar(select(Evaluation).order_by(Evaluation.id))
        mask = facts.mask_expression(limits)
        fired = set()
        for _ in range(150):
            f = _random_facts(rnd)
            db.session.execute(delete(RiskFacts).where(RiskFacts.evaluation_id == ev.id))
            db.session.add(
                RiskFacts(
                    evaluation_id=ev.id,
                    evaluation_version=ev.version,
                    cycle_id=ev.cycle_id,
                    department_id=ev.department_id,
                    computed_at=date(2026, 1, 1),
                    **{name: getattr(f, name) for name in risk.Facts.__dataclass_fields__},
                )
            )
            db.session.flush()
            bits = db.session.scalar(select(mask).where(RiskFacts.evaluation_id == ev.id))
            expected = {r.key for r in risk.RULES if r.applies(f, limits)}
            got = {r.key for i, r in enumerate(risk.RULES) if bits >> i & 1}
            assert got == expected, f
            assert [x.key for x in risk.assess_mask(bits, f, limits)] == [
                x.key for x in risk.assess(f, limits)
            ]
            fired |= got
        db.session.rollback()
    assert fired == {r.key for r in risk.RULES}  # every rule was exercised both ways


def test_a_batch_is_the_pure_sample_of_the_facts(any_app: Flask) -> None:
    """create_batch (the database's weights, the items written in bulk) draws exactly what
    the pure sampler draws from the facts' findings, with those findings as the items'
    risks, and writes its audit row; on SQLite and on PostgreSQL."""
    from workflow.models import AuditLog, RecheckBatch, RecheckItem, User
    from workflow.rechecks import operations, sampling

    with any_app.app_context():
        finance = db.session.scalar(select(User).where(User.username == "finance"))
        cycle_id = db.session.scalar(select(RecheckBatch.cycle_id))  # the demo batch's
        facts.refresh(cycle_id=cycle_id)
        db.session.commit()
        limits = facts.thresholds()
        boost = float(any_app.config.get("RISK_WEIGHT_PER_REASON", 20))
        evaluations = db.session.scalars(
            select(Evaluation).where(
                Evaluation.cycle_id == cycle_id, Evaluation.state.in_(facts.SUBMITTED_STATES)
            )
        ).all()
        found = facts.findings_for([e.id for e in evaluations])
        pool = [
            sampling.Candidate(
                e.id,
                e.department_id,
                e.self_grade or "",
                risk.weight(len(found.get(e.id, [])), boost),
            )
            for e in evaluations
        ]
        assert len(pool) >= 4
        for method in sampling.METHODS:
            batch = operations.create_batch(finance, cycle_id, method, method, 77, count=3)
            items = db.session.scalars(
                select(RecheckItem).where(RecheckItem.batch_id == batch.id)
            ).all()
            assert sorted(i.evaluation_id for i in items) == sampling.draw(
                pool, method, 77, count=3
            )
            for item in items:
                ev = db.session.get(Evaluation, item.evaluation_id)
                assert (item.unit_id, item.department_id) == (ev.unit_id, ev.department_id)
                assert item.state == "assigned" and item.version == 1
                assert item.risks == [
                    {"key": w.key, "label": w.label, "reason": w.reason}
                    for w in risk.assess(facts.as_plain(db.session.get(RiskFacts, ev.id)), limits)
                ]
            audit = db.session.scalars(
                select(AuditLog).where(AuditLog.event == "recheck_batch").order_by(AuditLog.id)
            ).all()[-1]
            assert audit.scores["batch_id"] == batch.id and audit.scores["seed"] == 77


def test_a_queue_reads_the_findings_with_its_rows(any_app: Flask) -> None:
    """The review queue reads each row's facts and rule mask in its rows statement
    (facts.list_columns): the same findings as the statement of their own, rows without
    facts included, and no statement on risk_facts besides."""
    from sqlalchemy import event

    from tests.workflow.helpers import user
    from workflow.evaluations import queries

    with any_app.app_context():
        cycle_id = db.session.scalar(select(Evaluation.cycle_id))
        facts.refresh(cycle_id=cycle_id)
        db.session.commit()
        reviewer = user("reviewer")
        filters = queries.ListFilters.from_args({}, default_states=())
        seen: list[str] = []
        listener = lambda _c, _cur, statement, *_a: seen.append(statement)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = queries.list_evaluations(reviewer, filters, extra=facts.list_columns())
            folded = facts.findings_from(page)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        ids = [r.id for r in page.rows]
        assert len(page.extra) == len(ids) and folded
        assert sum("risk_facts" in s for s in seen) == 1  # the rows statement's join
        separate = facts.findings_for(ids)
        assert {k: [f.key for f in v] for k, v in folded.items()} == {
            k: [f.key for f in v] for k, v in separate.items()
        }
        plain = queries.list_evaluations(reviewer, filters)
        assert plain.extra == {} and facts.findings_from(plain).keys() == separate.keys()
