"""The lists page through evaluations in deadline order (then state, cycle, id), exactly as a
plain sort would.

The list reads only the (state, cycle) groups a page touches (queries.list_evaluations); this
checks every page of every filter against the obvious way: read everything the user may
see, sort it in Python, cut it in pages.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask_login import login_user
from sqlalchemy import insert, select

from workflow.core.extensions import db
from workflow.evaluations import queries, views
from workflow.models import Cycle, Evaluation, Org, Project, User


def _populate(count: int) -> None:
    """Extra cycles (two share their deadlines, one has no overdue stage) and `count`
    evaluations spread over them, every state and every unit."""
    rng = random.Random(11)
    base = db.session.scalars(select(Cycle)).first()
    assert base is not None
    cycles = [base]
    for i, shift in enumerate((0, 0, -40, 30)):
        cycle = Cycle(
            year=2030 + i,
            name=f"排序测试任务{i}",
            scheme_key=base.scheme_key,
            scheme_version=base.scheme_version,
            scheme=base.scheme,
            deadline_submit=base.deadline_submit + timedelta(days=shift),
            deadline_review=base.deadline_review + timedelta(days=shift),
            deadline_confirm=base.deadline_confirm + timedelta(days=shift),
        )
        db.session.add(cycle)
        cycles.append(cycle)
    db.session.flush()
    template = db.session.scalars(select(Evaluation)).first()
    assert template is not None
    units = db.session.scalars(select(Org).where(Org.kind == "unit")).all()
    now = datetime.now(UTC)
    projects = [
        {"unit_id": u.id, "name": f"排序项目{i:03d}{'_%' if i % 7 == 0 else ''}", "summary": ""}
        for i, u in enumerate(rng.choice(units) for _ in range(count))
    ]
    ids = list(db.session.scalars(insert(Project).returning(Project.id), projects))
    rows = []
    for pid, p in zip(ids, projects, strict=True):
        unit = next(u for u in units if u.id == p["unit_id"])
        state = rng.choice(views.STATE_ORDER)
        total = Decimal(rng.randrange(5000, 10000)) / 100
        rows.append(
            {
                "project_id": pid,
                "cycle_id": rng.choice(cycles).id,
                "unit_id": unit.id,
                "department_id": unit.parent_id,
                "state": state,
                "version": 1,
                "scheme_id": template.scheme_id,
                "entries": {},
                "self_total": None if state == "draft" else total,
                "self_grade": None if state == "draft" else "良",
                "stage_entered_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    db.session.execute(insert(Evaluation), rows)
    db.session.commit()


def _expected(user: User, filters: queries.ListFilters) -> list[int]:
    stmt = select(Evaluation, Project.name, Org.name, Cycle).join(
        Project, Project.id == Evaluation.project_id
    )
    stmt = stmt.join(Org, Org.id == Evaluation.unit_id).join(Cycle, Cycle.id == Evaluation.cycle_id)
    keyed = []
    for ev, project, unit, cycle in db.session.execute(stmt):
        scope, org = {
            "reviewer": ("department_id", user.org_id),
            "finance": ("all", None),
            "sysadmin": ("all", None),
        }.get(user.role, ("unit_id", user.org_id))
        if scope != "all" and getattr(ev, scope) != org:
            continue
        if filters.states and ev.state not in filters.states:
            continue
        if filters.unit_id and ev.unit_id != filters.unit_id:
            continue
        if filters.cycle_id and ev.cycle_id != filters.cycle_id:
            continue
        if filters.q and filters.q not in project and filters.q not in unit:
            continue
        stage = views.STATE_STAGE.get(ev.state)
        day: date | None = cycle.deadline_for(stage) if stage else None
        rank = views.STATE_ORDER.index(ev.state)
        keyed.append(((day is None, day or date.max, rank, ev.cycle_id), ev.id))
    keyed.sort()
    return [i for _key, i in keyed]


CASES: list[tuple[str, dict[str, Any]]] = [
    ("reviewer", {}),
    ("reviewer", {"states": ["self_scored", "dept_review"]}),
    ("finance", {}),
    ("finance", {"states": ["finance_confirmation"]}),
    ("sysadmin", {"q": "_%"}),
    ("sysadmin", {"q": "排序项目01"}),
    ("unit_a", {}),
    ("unit_a", {"states": ["draft"]}),
    ("finance", {"cycle": True}),
    ("reviewer", {"unit": True}),
]


@pytest.mark.parametrize(("username", "spec"), CASES)
def test_every_page_matches_a_plain_sort(any_app: Flask, username: str, spec: dict) -> None:
    with any_app.test_request_context():
        _populate(160)
        user = db.session.scalars(select(User).where(User.username == username)).one()
        login_user(user)
        filters = queries.ListFilters(states=spec.get("states", []), q=spec.get("q", ""))
        if spec.get("cycle"):
            filters.cycle_id = db.session.scalars(
                select(Cycle.id).where(Cycle.name == "排序测试任务1")
            ).one()
        if spec.get("unit"):
            filters.unit_id = queries.units_for(user)[0][0]
        expected = _expected(user, filters)
        assert len(expected) > 7, "the case should span several pages"
        seen: list[int] = []
        page_no = 1
        while True:
            filters.page = page_no
            page = queries.list_evaluations(user, filters, per_page=7)
            assert page.total == len(expected)
            seen += [r.id for r in page.rows]
            if not page.has_next:
                break
            page_no += 1
        assert seen == expected
        # A page past the end is empty, not an error.
        filters.page = page_no + 3
        assert queries.list_evaluations(user, filters, per_page=7).rows == []
