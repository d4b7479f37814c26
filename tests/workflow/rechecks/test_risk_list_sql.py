"""The dashboard's risk list is selected, counted, ordered and paged by the database (the
rules compiled to SQL) and says exactly what the Python rules say over every evaluation in
the user's scope, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from datetime import date

from flask import Flask
from sqlalchemy import delete, select

from tests.conftest import login
from tests.workflow.helpers import user
from tests.workflow.rechecks.test_risk_sql import _random_facts
from workflow.core.extensions import db
from workflow.models import Evaluation, RiskFacts
from workflow.rechecks import facts, queries, risk


def _python_list(username: str) -> list[tuple[int, list[str], list[str]]]:
    """What the list was computed as before: every evaluation in scope through Python."""
    from workflow.evaluations.queries import visible_filter

    who = user(username)
    limits = facts.thresholds()
    ids = db.session.scalars(
        select(Evaluation.id).where(
            visible_filter(who), Evaluation.state.in_(facts.SUBMITTED_STATES)
        )
    ).all()
    found = []
    for row in db.session.scalars(select(RiskFacts).where(RiskFacts.evaluation_id.in_(ids))):
        why = risk.assess(facts.as_plain(row), limits)
        if why:
            found.append(
                (row.evaluation_id, tuple(w.label for w in why), tuple(w.reason for w in why))
            )
    return sorted(found, key=lambda x: (-len(x[1]), x[0]))


def test_the_sql_list_is_the_python_list_page_by_page(any_app: Flask) -> None:
    rnd = random.Random(1616)
    with any_app.app_context():
        evaluations = db.session.scalars(
            select(Evaluation).where(Evaluation.state.in_(facts.SUBMITTED_STATES))
        ).all()
        assert len(evaluations) >= 4
        seen_counts = set()
        for _ in range(12):
            db.session.execute(delete(RiskFacts))
            for ev in evaluations:
                f = _random_facts(rnd)
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
            db.session.commit()
            for username in ("finance", "reviewer", "reviewer_2", "sysadmin"):
                expected = _python_list(username)
                total, first = queries.risky(user(username), limit=10)
                assert total == len(expected), username
                pages = []
                for offset in range(0, total + 2, 2):
                    _total, rows = queries.risky(user(username), limit=2, offset=offset)
                    pages += rows
                got = [(r.evaluation_id, r.badge.labels, r.badge.reasons) for r in pages]
                assert got == expected, username
                assert [r.evaluation_id for r in first] == [e[0] for e in expected][:10]
                assert all(r.project and r.unit for r in pages)
                seen_counts.add(total)
            # Units and experts have no list.
            assert queries.risky(user("unit_a")) == (0, [])
            assert queries.risky(user("expert")) == (0, [])
        db.session.execute(delete(RiskFacts))
        db.session.commit()
    assert len(seen_counts) > 2  # the rounds differed


def test_the_list_page_and_the_dashboard_link(app: Flask) -> None:
    with app.app_context():
        total, _rows = queries.risky(user("finance"))
    client = app.test_client()
    login(client, "finance")
    page = client.get("/rechecks/risks").get_data(as_text=True)
    assert f"{total} 份已提交的评价表触发风险规则" in page
    assert page.count('data-testid="risk-badge"') == total
    # Past the end: an empty page, not an error.
    assert client.get("/rechecks/risks?page=99").status_code == 200
    for username in ("unit_a", "expert", "auditor"):
        other = app.test_client()
        login(other, username)
        assert other.get("/rechecks/risks").status_code == 404, username
