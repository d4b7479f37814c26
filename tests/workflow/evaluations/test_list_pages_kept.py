"""A department's or finance's list page keeps its rows per web process under the generations
of the (department, cycle, state) groups it shows (evaluations/queries.py); the triggers raise
a group's generation on every change to what a list shows of its rows (models/counts.py).
Each kind of change is seen on the next page, on SQLite and PostgreSQL; a draft's save
raises nothing; the recount raises every generation; a request that wrote keeps nothing."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import event, insert, select, update

from tests.workflow.pagehelpers import client_as
from workflow.admin import operations as admin_ops
from workflow.core import database
from workflow.core.extensions import db
from workflow.models import (
    Cycle,
    Evaluation,
    EvaluationCount,
    Org,
    OrgGeneration,
    Project,
    RiskFacts,
    User,
)


class _RowsRead:
    """How many times the list's rows statement ran."""

    def __init__(self, app: Flask) -> None:
        self.n = 0
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().startswith("SELECT evaluations.id") and " AS project" in statement:
            self.n += 1


def _stable(html: str) -> str:
    """The page but its CSRF tokens (signed with the second they were made in)."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', html)


def _generations() -> dict[tuple[int, int, str], int]:
    db.session.rollback()
    ec = EvaluationCount.__table__
    rows = db.session.execute(select(ec.c.department_id, ec.c.cycle_id, ec.c.state, ec.c.changed))
    return {(d, c, s): n for d, c, s, n in rows}


def _queued(app: Flask) -> tuple[int, int, str, int]:
    """An evaluation on the reviewer's queue: (id, project id, project name, unit id)."""
    with app.app_context():
        department = db.session.scalar(select(User.org_id).where(User.username == "reviewer"))
        row = db.session.execute(
            select(Evaluation.id, Project.id, Project.name, Evaluation.unit_id)
            .join(Project, Project.id == Evaluation.project_id)
            .where(
                Evaluation.department_id == department,
                Evaluation.state.in_(("self_scored", "dept_review")),
            )
            .order_by(Evaluation.id)
        ).first()
        assert row is not None, "the demo world has a queued evaluation"
        return row[0], row[1], row[2], row[3]


def test_the_queue_reads_its_rows_again_after_each_kind_of_change(any_app: Flask) -> None:
    app = any_app
    client = client_as(app, "reviewer")
    ev_id, project_id, project, unit_id = _queued(app)
    rows = _RowsRead(app)

    def page() -> str:
        resp = client.get("/review/")
        assert resp.status_code == 200
        return _stable(resp.get_data(as_text=True))

    first = page()
    assert project in first and rows.n == 1
    assert page() == first and rows.n == 1, "unchanged: the kept rows, the same page"

    def changed(sql: Any) -> None:
        with app.app_context():
            db.session.execute(sql)
            db.session.commit()

    # In place: its self-score.
    changed(update(Evaluation).where(Evaluation.id == ev_id).values(self_total=Decimal("71.23")))
    assert "71.23" in page() and rows.n == 2
    # Its project's name.
    changed(update(Project).where(Project.id == project_id).values(name="改名后的项目甲"))
    assert "改名后的项目甲" in page() and rows.n == 3
    # Its unit's name (the organisations' own generation).
    changed(update(Org).where(Org.id == unit_id).values(name="改名后的单位乙"))
    assert "改名后的单位乙" in page() and rows.n == 4

    # Its risk facts: a self-score of 99 with 50 % of the budget spent is flagged.
    def risks(html: str) -> str:
        start = html.find('data-testid="queue-risks"')
        return html[start : html.index("</details>", start)] if start >= 0 else ""

    with app.app_context():
        ev = db.session.get(Evaluation, ev_id)
        values = {
            "evaluation_version": ev.version,
            "cycle_id": ev.cycle_id,
            "department_id": ev.department_id,
            "self_total": Decimal("50"),
            "execution_rate": Decimal("1"),
            "dept_total": None,
            "qualitative_rows": 0,
            "qualitative_full": 0,
            "shortfall_full": 0,
            "over_no_reason": None,
            "tier_mismatch": 0,
            "adjusted_month": None,
        }
        found = db.session.execute(
            update(RiskFacts).where(RiskFacts.evaluation_id == ev_id).values(**values)
        ).rowcount
        if not found:
            db.session.execute(insert(RiskFacts).values(evaluation_id=ev_id, **values))
        db.session.commit()
    assert "改名后的项目甲" not in risks(page()) and rows.n == 5
    changed(
        update(RiskFacts)
        .where(RiskFacts.evaluation_id == ev_id)
        .values(self_total=Decimal("99"), execution_rate=Decimal("0.5"))
    )
    html = page()
    assert "改名后的项目甲" in risks(html) and rows.n == 6
    assert page() == html and rows.n == 6
    # Moved out of the queue.
    changed(update(Evaluation).where(Evaluation.id == ev_id).values(state="finance_confirmation"))
    assert "改名后的项目甲" not in page() and rows.n == 7


def test_what_raises_which_generation(any_app: Flask) -> None:
    with any_app.app_context():
        draft = db.session.scalar(select(Evaluation).where(Evaluation.state == "draft"))
        queued = db.session.scalar(select(Evaluation).where(Evaluation.state == "self_scored"))
        assert draft is not None and queued is not None
        draft_id, queued_id, project_id = draft.id, queued.id, queued.project_id
        draft_group = (draft.department_id, draft.cycle_id, "draft")
        queued_group = (queued.department_id, queued.cycle_id, "self_scored")
        before = _generations()
        # A draft saved: nothing moves (its group is never kept).
        db.session.execute(
            update(Evaluation)
            .where(Evaluation.id == draft_id)
            .values(version=Evaluation.version + 1)
        )
        db.session.commit()
        assert _generations() == before
        # A queued one changed in place: its group alone.
        db.session.execute(
            update(Evaluation).where(Evaluation.id == queued_id).values(dept_total=Decimal("80"))
        )
        db.session.commit()
        after = _generations()
        assert after[queued_group] == before[queued_group] + 1
        assert {k: v for k, v in after.items() if k != queued_group} == {
            k: v for k, v in before.items() if k != queued_group
        }
        # Submitted: out of the draft group, into the queue's, both raised.
        before = after
        db.session.execute(
            update(Evaluation).where(Evaluation.id == draft_id).values(state="self_scored")
        )
        db.session.commit()
        after = _generations()
        moved_in = (draft_group[0], draft_group[1], "self_scored")
        assert after[draft_group] > before[draft_group]
        assert after[moved_in] > before.get(moved_in, 0)
        # A cycle renamed, a project renamed, risk facts written: the groups stay, the
        # generation of what rows show from other tables rises.
        before = after
        for change in (
            update(Cycle).where(Cycle.id == queued_group[1]).values(name="改名后的周期"),
            update(Project).where(Project.id == project_id).values(name="改名后的项目"),
            update(RiskFacts)
            .where(RiskFacts.evaluation_id == queued_id)
            .values(tier_mismatch=RiskFacts.tier_mismatch + 1),
        ):
            names = _names()
            db.session.execute(change)
            db.session.commit()
            assert _generations() == before and _names() > names, change
        # The recount: every group one up, each time, the empty ones too (none is deleted).
        for _ in range(3):
            before = _generations()
            admin_ops.recount_evaluations()
            recounted = _generations()
            assert recounted == {k: v + 1 for k, v in before.items()}


def _names() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(OrgGeneration.n).where(OrgGeneration.id == 1)))


def test_only_a_read_of_committed_data_keeps_a_page(any_app: Flask) -> None:
    """What a request that began a write reads may include its own uncommitted changes (and
    their raised generations, which a rollback would give to another change): never kept."""
    with any_app.test_request_context("/review/", method="GET"):
        database._start_request()
        assert database.reads_committed()
        database.begin_write()
        assert not database.reads_committed()
        db.session.rollback()
    with any_app.test_request_context("/review/", method="POST"):
        database._start_request()
        assert not database.reads_committed()
        db.session.rollback()


def test_the_kept_pages_are_bounded(app: Flask) -> None:
    app.config["LIST_PAGE_CACHE"] = 2
    client = client_as(app, "finance")
    rows = _RowsRead(app)
    with app.app_context():
        states = db.session.scalars(
            select(EvaluationCount.state)
            .where(EvaluationCount.state != "draft", EvaluationCount.n > 0)
            .distinct()
            .order_by(EvaluationCount.state)
        ).all()
    assert len(states) >= 2, states
    a, b = states[:2]
    urls = [f"/finance/?state={a}", f"/finance/?state={b}", f"/finance/?state={a}&state={b}"]
    for url in urls * 2:
        assert client.get(url).status_code == 200
    kept = app.extensions.get("list_pages", {})
    assert 0 < len(kept) <= 2
    assert rows.n >= 4  # the third page pushed the first two out
    app.config["LIST_PAGE_CACHE"] = 0
    before = rows.n
    for _ in range(2):
        assert client.get(urls[0]).status_code == 200
    assert rows.n == before + 2, "0 reads every page"


def test_finance_sees_a_change_in_place_and_never_keeps_drafts(any_app: Flask) -> None:
    """Everybody's list keys on the sum of the departments' generations; a page of drafts is
    read every time (their groups have no generation that moves)."""
    app = any_app
    client = client_as(app, "finance")
    rows = _RowsRead(app)
    with app.app_context():
        ev = db.session.scalar(select(Evaluation).where(Evaluation.state == "finance_confirmation"))
        assert ev is not None
        ev_id = ev.id

    def page(url: str = "/finance/") -> str:
        resp = client.get(url)
        assert resp.status_code == 200
        return _stable(resp.get_data(as_text=True))

    first = page()
    assert page() == first and rows.n == 1
    with app.app_context():
        db.session.execute(
            update(Evaluation).where(Evaluation.id == ev_id).values(dept_total=Decimal("66.66"))
        )
        db.session.commit()
    assert "66.66" in page() and rows.n == 2
    drafts = page("/finance/?state=draft")
    assert rows.n == 3
    assert page("/finance/?state=draft") == drafts and rows.n == 4, "drafts are read every time"
