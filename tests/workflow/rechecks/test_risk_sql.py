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
