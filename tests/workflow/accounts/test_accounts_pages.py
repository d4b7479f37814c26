"""账号管理: business users created by the system administrator, password resets by the
security administrator, Chinese errors beside the fields, sessions that die."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.conftest import PASSWORD, login
from tests.workflow.adminhelpers import demo_ids, field_error, get_user, kept_value, org_id

# --- users -----------------------------------------------------------------------------------


def test_create_user_and_log_in(app: Flask, login_as: Any) -> None:
    unit_id = org_id(app, "江苏省政务服务中心")
    resp = login_as("sysadmin").post(
        "/admin/users",
        data={
            "username": "new_staff",
            "name": "新同事",
            "email": "new@example.gov.cn",
            "role": "unit_staff",
            "org_id": str(unit_id),
            "password": "first-password-1",
        },
    )
    assert resp.status_code == 302
    other = app.test_client()
    login(other, "new_staff", "first-password-1")
    assert "新同事" in other.get("/password").get_data(as_text=True)


def test_bad_user_input_keeps_typed_values(app: Flask, login_as: Any) -> None:
    dept_id = org_id(app, "江苏省数据局")
    resp = login_as("sysadmin").post(
        "/admin/users",
        data={
            "username": "坏 名字",
            "name": "王五",
            "email": "not-an-email",
            "role": "unit_staff",
            "org_id": str(dept_id),
            "password": "short",
        },
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert field_error(html, "email") == "电子邮箱格式不正确"
    assert field_error(html, "password") == "密码至少 10 个字符"
    assert kept_value(html, "username") == "坏 名字"
    assert kept_value(html, "name") == "王五"
    assert kept_value(html, "email") == "not-an-email"


def test_role_must_match_org_kind(app: Flask, login_as: Any) -> None:
    dept_id = org_id(app, "江苏省数据局")
    resp = login_as("sysadmin").post(
        "/admin/users",
        data={
            "username": "wrong_org",
            "name": "错部门",
            "role": "unit_staff",
            "org_id": str(dept_id),
            "password": "Long-enough-1",
        },
    )
    html = resp.get_data(as_text=True)
    assert field_error(html, "org_id") == "该角色须属于预算单位"
    resp = login_as("sysadmin").post(
        "/admin/users",
        data={
            "username": "unit_a",
            "name": "重名",
            "role": "reviewer",
            "org_id": str(dept_id),
            "password": "Long-enough-1",
        },
    )
    assert field_error(resp.get_data(as_text=True), "username") == "用户名 unit_a 已存在"


def test_disable_kills_existing_sessions(app: Flask, login_as: Any) -> None:
    victim = app.test_client()
    login(victim, "unit_b")
    assert victim.get("/password").status_code == 200
    uid = demo_ids(app)["uid"]
    resp = login_as("sysadmin").post(f"/admin/users/{uid}/disable")
    assert resp.status_code == 302
    resp = victim.get("/password")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert (
        victim.post("/login", data={"username": "unit_b", "password": PASSWORD}).status_code == 401
    )
    # Enabling again lets the user log in (with a fresh session).
    assert login_as("sysadmin").post(f"/admin/users/{uid}/enable").status_code == 302
    login(victim, "unit_b")


def test_admin_cannot_disable_self(app: Flask, login_as: Any) -> None:
    admin_id = get_user(app, "sysadmin").id
    client = login_as("sysadmin")
    resp = client.post(f"/admin/users/{admin_id}/disable", follow_redirects=True)
    assert "不能停用自己的账号" in resp.get_data(as_text=True)
    assert get_user(app, "sysadmin").active


def test_reset_password_with_given_password(app: Flask, login_as: Any) -> None:
    victim = app.test_client()
    login(victim, "unit_b")
    uid = demo_ids(app)["uid"]
    assert (
        login_as("secadmin")
        .post(f"/admin/users/{uid}/password", data={"password": "Brand-new-pass"})
        .status_code
        == 302
    )
    assert victim.get("/password").status_code == 302  # the old cookie is dead
    fresh = app.test_client()
    assert (
        fresh.post("/login", data={"username": "unit_b", "password": PASSWORD}).status_code == 401
    )
    login(fresh, "unit_b", "Brand-new-pass")


def test_reset_password_generates_one(app: Flask, login_as: Any) -> None:
    uid = demo_ids(app)["uid"]
    resp = login_as("secadmin").post(
        f"/admin/users/{uid}/password", data={"password": ""}, follow_redirects=True
    )
    match = re.search(r"已为 unit_b 生成新密码：(\S+)（只显示这一次）", resp.get_data(as_text=True))
    assert match
    login(app.test_client(), "unit_b", match.group(1))


def test_reset_password_too_short(app: Flask, login_as: Any) -> None:
    uid = demo_ids(app)["uid"]
    resp = login_as("secadmin").post(f"/admin/users/{uid}/password", data={"password": "short"})
    assert resp.status_code == 422
    assert field_error(resp.get_data(as_text=True), "password") == "密码至少 10 个字符"
