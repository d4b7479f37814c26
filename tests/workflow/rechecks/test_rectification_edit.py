"""整改 items: owner and due date edited on the page by finance and the unit's department,
with a reason, an audit row, Chinese messages beside the fields (what was typed kept), 409
on a race, notices to the owners, and the reminders following the new date."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import login
from tests.workflow.helpers import user
from workflow.core.extensions import db
from workflow.models import AuditLog, Evaluation, Notice, Project, Rectification, ReminderClaim


@pytest.fixture
def item_id(app: Flask) -> int:
    from workflow.rechecks import rectify

    with app.app_context():
        ev = db.session.scalar(
            select(Evaluation).join(Project).where(Project.name == "公共数据平台运维")
        )
        ev.problems = "1. 绩效目标细化不足"
        ev.measures = "1. 细化量化指标"
        db.session.commit()
        rectify.generate(user("finance"), ev.cycle_id)
        return int(db.session.scalar(select(Rectification.id)))


def _item(app: Flask, item_id: int) -> Rectification:
    with app.app_context():
        found = db.session.get(Rectification, item_id)
        db.session.expunge(found)
        return found


def _form(item: Rectification, **typed: str) -> dict[str, str]:
    data = {
        "owner": str(item.owner_id),
        "due_on": item.due_on.isoformat(),
        "reason": "",
        "version": str(item.version),
    }
    data.update(typed)
    return data


def test_finance_changes_owner_and_due_date_with_a_reason(app: Flask, item_id: int) -> None:
    from workflow.rechecks import rectify

    item = _item(app, item_id)
    with app.app_context():
        unit_c = user("unit_c")
        head = _unit_colleague(unit_c.org_id)
        first_owner = item.owner_id
    client = app.test_client()
    login(client, "finance")
    listing = client.get("/rechecks/rectifications").get_data(as_text=True)
    assert f'data-testid="rectify-edit-{item_id}"' in listing
    page = client.get(f"/rechecks/rectifications/{item_id}/edit").get_data(as_text=True)
    assert "绩效目标细化不足" in page and 'type="date"' in page
    new_due = date.today() + timedelta(days=3)
    resp = client.post(
        f"/rechecks/rectifications/{item_id}/edit",
        data=_form(item, owner=str(head), due_on=new_due.isoformat(), reason="原责任人调岗"),
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    after = _item(app, item_id)
    assert (after.owner_id, after.due_on, after.version) == (head, new_due, item.version + 1)
    with app.app_context():
        audit = db.session.scalar(select(AuditLog).where(AuditLog.event == "rectify_edit"))
        assert audit.evaluation_id == item.evaluation_id and audit.actor_name
        assert "理由：原责任人调岗" in audit.reason and "整改期限" in audit.reason
        assert audit.scores["due_on"] == [item.due_on.isoformat(), new_due.isoformat()]
        assert audit.scores["owner"] == [first_owner, head]
        told = db.session.scalars(
            select(Notice.user_id).where(Notice.title.like("整改事项已调整%"))
        ).all()
        assert sorted(told) == sorted({first_owner, head})
        # The reminders follow the new date: due in 3 days, so reminded today, to the new owner.
        claims = rectify.remind(date.today())
        assert len(claims) == 1
        assert db.session.get(ReminderClaim, claims[0]).user_id == head
        # Moved again the same day: no second reminder today (one a day), the next tomorrow.
    item = _item(app, item_id)
    later = date.today() + timedelta(days=5)
    client.post(
        f"/rechecks/rectifications/{item_id}/edit",
        data=_form(item, due_on=later.isoformat(), reason="延期"),
    )
    with app.app_context():
        assert rectify.remind(date.today()) == []
        assert len(rectify.remind(date.today() + timedelta(days=1))) == 1
    # The history of the evaluation names the change.
    unit = app.test_client()
    login(unit, "unit_c")
    history = unit.get(f"/evaluations/{item.evaluation_id}").get_data(as_text=True)
    assert "整改事项调整" in history


def _unit_colleague(unit_id: int) -> int:
    """A second user of the unit (its head), created for the test when there is none."""
    from workflow.auth import operations as auth_ops
    from workflow.models import Org, User

    found = db.session.scalar(
        select(User.id).where(User.org_id == unit_id, User.role == "unit_head")
    )
    if found is not None:
        return int(found)
    person = User(
        username="unit_c_head", name="周负责", role="unit_head", org=db.session.get(Org, unit_id)
    )
    db.session.add(person)
    person.set_password("demo-pass-2024")
    auth_ops.enrol_directly(person)
    db.session.commit()
    return person.id


@pytest.mark.parametrize(
    "typed,field,message",
    [
        ({"due_on": "2027-13-01", "reason": "x"}, "due", "整改期限须为日期"),
        ({"due_on": "2020-01-01", "reason": "x"}, "due", "整改期限不能早于今天"),
        ({"due_on": "2999-01-01", "reason": "x"}, "due", "整改期限不能晚于"),
        ({"reason": "x"}, "due", "责任人和整改期限都没有改变"),
        ({"due_on": "2030-01-01", "reason": "  "}, "reason", "调整须填写理由"),
        ({"owner": "__unit_a__", "reason": "x"}, "owner", "请从本单位的填报人和单位负责人中选择"),
    ],
)
def test_bad_input_is_named_beside_its_field_and_kept(
    app: Flask, item_id: int, typed: dict[str, str], field: str, message: str
) -> None:
    item = _item(app, item_id)
    if typed.get("owner") == "__unit_a__":
        with app.app_context():
            typed = dict(typed, owner=str(user("unit_a").id))
    client = app.test_client()
    login(client, "finance")
    resp = client.post(f"/rechecks/rectifications/{item_id}/edit", data=_form(item, **typed))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(rf'id="{field}-error">[^<]*{message}', page), page[-3000:]
    if "due_on" in typed:
        assert f'value="{typed["due_on"]}"' in page
    if typed.get("reason", "").strip():
        assert f">{typed['reason']}</textarea>" in page
    assert _item(app, item_id).version == item.version


def test_the_department_may_the_unit_and_others_may_not(app: Flask, item_id: int) -> None:
    item = _item(app, item_id)
    url = f"/rechecks/rectifications/{item_id}/edit"
    department = app.test_client()
    login(department, "reviewer_2")
    assert department.get(url).status_code == 200
    due = (date.today() + timedelta(days=30)).isoformat()
    assert (
        department.post(url, data=_form(item, due_on=due, reason="部门统筹安排")).status_code == 302
    )
    item = _item(app, item_id)
    for username in ("unit_c", "reviewer", "unit_a", "expert", "sysadmin"):
        client = app.test_client()
        login(client, username)
        assert client.get(url).status_code == 404, username
        assert client.post(url, data=_form(item, reason="x")).status_code == 404, username
    unit = app.test_client()
    login(unit, "unit_c")
    assert f'data-testid="rectify-edit-{item_id}"' not in unit.get(
        "/rechecks/rectifications"
    ).get_data(as_text=True)
    assert _item(app, item_id).version == item.version


def test_two_at_once_the_second_gets_409_and_a_closed_item_is_not_edited(
    app: Flask, item_id: int
) -> None:
    item = _item(app, item_id)
    url = f"/rechecks/rectifications/{item_id}/edit"
    first, second = app.test_client(), app.test_client()
    login(first, "finance")
    login(second, "reviewer_2")
    due = (date.today() + timedelta(days=40)).isoformat()
    assert first.post(url, data=_form(item, due_on=due, reason="甲")).status_code == 302
    late = second.post(url, data=_form(item, due_on=due, reason="乙"))
    assert late.status_code == 409 and "已被他人处理" in late.get_data(as_text=True)
    # Closing with the page's old version: 409 too.
    unit = app.test_client()
    login(unit, "unit_c")
    stale = unit.post(
        f"/rechecks/rectifications/{item_id}/close",
        data={"note": "已完成", "version": str(item.version)},
    )
    assert stale.status_code == 409
    current = _item(app, item_id)
    unit.post(
        f"/rechecks/rectifications/{item_id}/close",
        data={"note": "已完成", "version": str(current.version)},
    )
    assert _item(app, item_id).state == "closed"
    assert first.get(url).status_code == 404
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.event == "rectify_edit")
            )
            == 1
        )


def test_a_reminder_claimed_for_the_former_owner_is_not_mailed(app: Flask, item_id: int) -> None:
    from workflow.rechecks import rectify

    item = _item(app, item_id)
    with app.app_context():
        claims = rectify.remind(item.due_on - timedelta(days=1))
        claim = db.session.get(ReminderClaim, claims[0])
        found = db.session.get(Rectification, item_id)
        ev = db.session.get(Evaluation, found.evaluation_id)
        owner = db.session.get(type(user("unit_c")), claim.user_id)
        assert rectify.build_mail(claim, owner, ev) is not None
        found.owner_id = _unit_colleague(found.unit_id)
        db.session.commit()
        assert rectify.build_mail(claim, owner, ev) is None
