"""三员分立 (GB/T 22239 §8.1.4.2 d, §8.1.5): three administrators with separate duties, none
acting in a business role; no administrator created alone; a reset forces a change at the
next login and is audited with both names; the audit administrator's viewer and export."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from flask import Flask
from openpyxl import load_workbook

from tests.conftest import PASSWORD, login
from tests.workflow.helpers import in_state, user
from workflow import machine, policy
from workflow.accounts import operations as accounts_ops
from workflow.admin.operations import AdminError
from workflow.core.extensions import db
from workflow.machine import ADMIN_ROLES, Role
from workflow.models import AdminRequest, Org, SecurityEvent, User

ADMINS = ["sysadmin", "secadmin", "auditor"]


@pytest.mark.parametrize("username", ADMINS)
def test_no_administrator_acts_in_a_business_role(app: Flask, username: str) -> None:
    with app.app_context():
        admin = user(username)
        for state in machine.State:
            for ev in in_state(state.value):
                for action in (
                    policy.EDIT,
                    policy.UPLOAD_ON_BEHALF,
                    policy.REVIEW_EDIT,
                    policy.FINANCE_EDIT,
                    *machine.Event,
                ):
                    assert not policy.can(admin, str(action), ev), (username, action, state)
                assert policy.available_events(admin, ev) == []
    for t in machine.TRANSITIONS:
        assert not (ADMIN_ROLES & t.roles)


def test_only_the_system_administrator_sees_evaluations(app: Flask) -> None:
    with app.app_context():
        ev = in_state("confirmed")[0]
        assert policy.can_view(user("sysadmin"), ev)
        assert not policy.can_view(user("secadmin"), ev)
        assert not policy.can_view(user("auditor"), ev)


@pytest.mark.parametrize(
    ("username", "url", "status"),
    [
        ("auditor", "/admin/", 404),
        ("auditor", "/review/", 404),
        ("auditor", "/dashboard/", 404),
        ("sysadmin", "/audit/", 404),
        ("secadmin", "/audit/", 404),
        ("secadmin", "/admin/orgs", 404),
        ("sysadmin", "/admin/users/1/password", 404),
        ("auditor", "/audit/", 200),
        ("secadmin", "/admin/admins", 200),
    ],
)
def test_each_administrator_has_its_own_pages(
    app: Flask, username: str, url: str, status: int
) -> None:
    client = app.test_client()
    login(client, username)
    assert client.get(url).status_code == status


def test_nobody_creates_an_administrator_alone(app: Flask) -> None:
    sys_client = app.test_client()
    login(sys_client, "sysadmin")
    with app.app_context():
        finance_org = db.session.scalar(sa.select(Org.id).where(Org.kind == "finance"))
    # The users form offers business roles only, and refuses an administrator role.
    resp = sys_client.post(
        "/admin/users",
        data={
            "username": "solo",
            "name": "x",
            "role": "secadmin",
            "org_id": finance_org,
            "password": "long-enough-1",
        },
    )
    assert resp.status_code == 422
    resp = sys_client.post(
        "/admin/admins",
        data={
            "username": "new_auditor",
            "name": "新审计员",
            "role": "auditor",
            "org_id": finance_org,
        },
    )
    assert resp.status_code == 302
    with app.app_context():
        req = db.session.scalar(
            sa.select(AdminRequest).where(AdminRequest.username == "new_auditor")
        )
        assert req is not None and req.status == "pending"
        assert db.session.scalar(sa.select(User).where(User.username == "new_auditor")) is None
        req_id = req.id
        with pytest.raises(AdminError, match="另一名管理员"):
            accounts_ops.approve_request(user("sysadmin"), req_id)
        db.session.rollback()
        with pytest.raises(AdminError):
            accounts_ops.approve_request(user("auditor"), req_id)
        db.session.rollback()
    sec_client = app.test_client()
    login(sec_client, "secadmin")
    page = sec_client.post(f"/admin/admins/{req_id}/approve", follow_redirects=True)
    match = re.search(r"初始密码：(\S+?)（只显示这一次", page.get_data(as_text=True))
    assert match
    with app.app_context():
        created = db.session.scalar(sa.select(User).where(User.username == "new_auditor"))
        assert created.role == "auditor" and created.must_change_password
        events = {
            e.kind: e
            for e in db.session.scalars(
                sa.select(SecurityEvent).where(SecurityEvent.object == "user:new_auditor")
            )
        }
        assert events["admin_request"].username == "sysadmin"
        approve = events["admin_approve"]
        assert approve.username == "secadmin"
        assert (
            approve.detail["requested_by"] == "sysadmin"
            and approve.detail["approved_by"] == "secadmin"
        )
    # The command line may create administrators only while fewer than two could approve.
    with app.app_context(), pytest.raises(AdminError, match="另一名管理员批准"):
        accounts_ops.create_user(
            username="cli_admin",
            name="x",
            role="sysadmin",
            org=db.session.get(Org, finance_org),
            email=None,
            password="long-enough-1",
            bootstrap=True,
        )


def test_a_reset_forces_a_change_and_names_both(app: Flask) -> None:
    sec = app.test_client()
    login(sec, "secadmin")
    with app.app_context():
        uid = user("finance").id
    assert (
        sec.post(f"/admin/users/{uid}/password", data={"password": "temporary-pass-1"}).status_code
        == 302
    )
    with app.app_context():
        row = db.session.scalars(
            sa.select(SecurityEvent).where(SecurityEvent.kind == "password_reset")
        ).one()
        assert row.username == "secadmin" and row.role == "secadmin"
        assert row.detail["target"] == "finance" and row.detail["by"] == "secadmin"
        assert row.detail["target_name"] and row.detail["by_name"]
    # Whoever logs in with the password the administrator set gets nothing but the change page.
    client = app.test_client()
    login(client, "finance", "temporary-pass-1")
    for url in ("/", "/finance/", f"/evaluations/{in_state_id(app)}"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/password"), url
    assert "密码被重设后，须先修改密码" in client.get("/password").get_data(as_text=True)
    client.post(
        "/password",
        data={"current": "temporary-pass-1", "new": "my-own-pass-22", "confirm": "my-own-pass-22"},
    )
    assert client.get("/finance/").status_code == 200
    with app.app_context():
        assert not user("finance").must_change_password
        notice = "您的密码已被管理员重设"
        from workflow.models import Notice

        assert db.session.scalar(sa.select(Notice).where(Notice.title == notice)) is not None


def in_state_id(app: Flask) -> int:
    with app.app_context():
        return in_state("finance_confirmation")[0].id


def test_an_administrator_cannot_log_in_as_another_user(app: Flask) -> None:
    """There is no 'log in as' route; a signed-in administrator posting the login form stays
    who they are (the only way in as someone else is a reset, which forces a change and
    names the administrator, above)."""
    client = app.test_client()
    login(client, "secadmin")
    client.post("/login", data={"username": "finance", "password": PASSWORD})
    assert client.get("/finance/").status_code == 404
    assert not [
        r.rule for r in app.url_map.iter_rules() if "impersonat" in r.rule or "login_as" in r.rule
    ]


def test_the_security_administrator_changes_business_roles_only(app: Flask) -> None:
    with app.app_context():
        target = user("unit_a")
        accounts_ops.change_role(user("secadmin"), target, "unit_head")
        assert user("unit_a").role == "unit_head"
        with pytest.raises(AdminError):
            accounts_ops.change_role(user("secadmin"), user("unit_b"), "sysadmin")
        db.session.rollback()
        with pytest.raises(AdminError):
            accounts_ops.change_role(user("sysadmin"), user("unit_b"), "unit_head")
        db.session.rollback()


def test_the_auditor_filters_and_exports_and_that_is_logged(app: Flask) -> None:
    finance = app.test_client()
    login(finance, "unit_b")
    finance.get("/admin/")  # a denied request to find
    client = app.test_client()
    login(client, "auditor")
    page = client.get("/audit/?log=security&kind=denied&outcome=denied&user=unit_b")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "GET /admin/" in html
    assert "拒绝访问" in html
    empty = client.get("/audit/?log=security&kind=denied&user=nobody").get_data(as_text=True)
    assert "没有符合条件的记录" in empty
    assert client.get("/audit/?start=not-a-date").status_code == 422
    resp = client.get("/audit/export.xlsx?log=audit")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(resp.data)).active
    assert sheet.cell(1, 3).value == "事件" and sheet.max_row > 5
    with app.app_context():
        kinds = [
            e.kind
            for e in db.session.scalars(
                sa.select(SecurityEvent).where(SecurityEvent.username == "auditor")
            )
        ]
        assert kinds.count("audit_query") == 3 and kinds.count("audit_export") == 1


def test_administrator_roles_are_labelled() -> None:
    assert [machine.ROLE_LABELS[r] for r in (Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR)] == [
        "系统管理员",
        "安全管理员",
        "审计管理员",
    ]
