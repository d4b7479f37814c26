"""系统管理: admin only (everyone else 404), Chinese errors beside the fields, sessions that die."""

from __future__ import annotations

import json
import re
from datetime import date
from importlib.resources import files
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import scoring
from tests.conftest import PASSWORD, login
from tests.workflow.adminhelpers import demo_ids, field_error, kept_value, org_id
from workflow.admin.cli import demo_deadlines
from workflow.core.extensions import db
from workflow.models import Cycle, Evaluation, Org, ReminderClaim, User

PAGES = [
    "/admin/",
    "/admin/orgs",
    "/admin/users",
    "/admin/users/{uid}/password",
    "/admin/cycles",
    "/admin/cycles/new",
    "/admin/cycles/{cid}",
    "/admin/schemes",
    "/admin/import",
    "/admin/reminders",
]


# --- access ----------------------------------------------------------------------------------


# 三员分立: the password reset is the security administrator's; the rest the system one's.
OPENER = {"/admin/users/{uid}/password": "secadmin"}


@pytest.mark.parametrize("page", PAGES)
def test_admin_opens_every_page(app: Flask, login_as: Any, page: str) -> None:
    url = page.format(**demo_ids(app))
    resp = login_as(OPENER.get(page, "sysadmin")).get(url)
    assert resp.status_code == 200, url
    assert 'data-testid="admin-nav"' in resp.get_data(as_text=True)


@pytest.mark.parametrize("username", ["finance", "reviewer", "unit_a", "unit_a_head"])
@pytest.mark.parametrize("page", PAGES)
def test_other_roles_get_404(app: Flask, login_as: Any, username: str, page: str) -> None:
    url = page.format(**demo_ids(app))
    assert login_as(username).get(url).status_code == 404


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/orgs", {"name": "偷建的部门", "kind": "department", "parent_id": "0"}),
        (
            "/admin/users",
            {
                "username": "sneaky",
                "name": "x",
                "role": "sysadmin",
                "org_id": "1",
                "password": "12345678x",
            },
        ),
        ("/admin/users/{uid}/disable", {}),
        ("/admin/users/{uid}/password", {"password": "hijacked-password"}),
        ("/admin/cycles/{cid}", {"year": "2030"}),
    ],
)
def test_other_roles_cannot_post(app: Flask, login_as: Any, url: str, data: dict[str, str]) -> None:
    client = login_as("finance")
    assert client.post(url.format(**demo_ids(app)), data=data).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Org).where(Org.name == "偷建的部门")) is None
        assert db.session.scalar(select(User).where(User.username == "sneaky")) is None
        unit_b = db.session.scalar(select(User).where(User.username == "unit_b"))
        assert unit_b is not None and unit_b.active and unit_b.check_password(PASSWORD)


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    resp = client.get("/admin/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_admin_nav_link_only_for_admin(login_as: Any, app: Flask) -> None:
    assert 'href="/admin/"' in login_as("sysadmin").get("/admin/").get_data(as_text=True)
    other = app.test_client()
    login(other, "finance")
    assert 'href="/admin/"' not in other.get("/dashboard/").get_data(as_text=True)


# --- organisations ---------------------------------------------------------------------------


def test_create_department_and_unit_shows_tree(app: Flask, login_as: Any) -> None:
    client = login_as("sysadmin")
    resp = client.post(
        "/admin/orgs", data={"name": "江苏省测试厅", "kind": "department", "parent_id": "0"}
    )
    assert resp.status_code == 302
    dept_id = org_id(app, "江苏省测试厅")
    resp = client.post(
        "/admin/orgs",
        data={"name": "江苏省测试中心", "kind": "unit", "parent_id": str(dept_id), "code": "T-01"},
    )
    assert resp.status_code == 302
    html = client.get("/admin/orgs").get_data(as_text=True)
    tree = html[html.index('data-testid="org-tree"') :]
    assert tree.index("江苏省测试厅") < tree.index("江苏省测试中心")
    with app.app_context():
        unit = db.session.scalar(select(Org).where(Org.name == "江苏省测试中心"))
        assert unit is not None and unit.parent_id == dept_id and unit.code == "T-01"


def test_unit_without_department_is_refused_next_to_the_field(login_as: Any) -> None:
    resp = login_as("sysadmin").post(
        "/admin/orgs", data={"name": "无主单位<b>", "kind": "unit", "parent_id": "0"}
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert field_error(html, "parent_id") == "预算单位必须隶属于一个主管部门"
    assert kept_value(html, "name") == "无主单位&lt;b&gt;"


def test_duplicate_and_empty_org_names(login_as: Any) -> None:
    client = login_as("sysadmin")
    html = client.post(
        "/admin/orgs", data={"name": "江苏省数据局", "kind": "department", "parent_id": "0"}
    ).get_data(as_text=True)
    assert "已存在" in field_error(html, "name")
    html = client.post(
        "/admin/orgs", data={"name": "", "kind": "department", "parent_id": "0"}
    ).get_data(as_text=True)
    assert field_error(html, "name") == "请填写机构名称"
    html = client.post(
        "/admin/orgs", data={"name": "x", "kind": "planet", "parent_id": "0"}
    ).get_data(as_text=True)
    assert field_error(html, "kind") == "请从列表中选择"


# --- cycles ----------------------------------------------------------------------------------

CYCLE = {
    "year": "２０２４",  # full-width digits are accepted
    "name": "2024年度省级项目支出绩效自评",
    "scheme_key": "jiangsu-2022",
    "deadline_submit": "2025-04-14",
    "deadline_review": "2025/4/28",
    "deadline_confirm": "2025-05-19",
    "reminder_days": "7，3、1, 14",
    "day_kind": "working",
    "active": "y",
}


def test_create_cycle(app: Flask, login_as: Any) -> None:
    resp = login_as("sysadmin").post("/admin/cycles/new", data=CYCLE)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        cycle = db.session.scalar(select(Cycle).where(Cycle.name == CYCLE["name"]))
        assert cycle is not None
        assert cycle.year == 2024
        assert cycle.deadline_review == date(2025, 4, 28)
        assert cycle.reminder_days == [14, 7, 3, 1]
        assert cycle.day_kind == "working"
        assert cycle.scheme["name"] == scoring.builtin_scheme("jiangsu-2022").name
    assert CYCLE["name"] in login_as("sysadmin").get("/admin/cycles").get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"deadline_review": "2025-04-01"}, "deadline_review", "审核截止日期不能早于填报截止日期"),
        (
            {"deadline_confirm": "2025-04-20"},
            "deadline_confirm",
            "确认截止日期不能早于审核截止日期",
        ),
        (
            {"deadline_submit": "2025-13-40"},
            "deadline_submit",
            "日期格式应为 YYYY-MM-DD，例如 2024-04-15",
        ),
        ({"deadline_submit": ""}, "deadline_submit", "请填写填报截止日期"),
        ({"year": "二〇二四"}, "year", "请填写整数"),
        ({"year": "1999"}, "year", "年度应在 2000–2100 之间"),
        ({"reminder_days": "7, 三"}, "reminder_days", "“三”不是天数（应为 0–365 的整数）"),
        ({"day_kind": "lunar"}, "day_kind", "请从列表中选择"),
        ({"scheme_key": "../../etc/passwd"}, "scheme_key", "请从列表中选择"),
        (
            {"name": "2022年度省级项目支出绩效自评"},
            "name",
            "任务名称“2022年度省级项目支出绩效自评”已存在",
        ),
    ],
)
def test_bad_cycle_input(login_as: Any, change: dict[str, str], field: str, message: str) -> None:
    data = {**CYCLE, "name": "坏输入的任务<i>", **change}
    resp = login_as("sysadmin").post("/admin/cycles/new", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert field_error(html, field) == message.replace("<", "&lt;").replace(">", "&gt;")
    if field != "name":
        assert kept_value(html, "name") == "坏输入的任务&lt;i&gt;"
    assert kept_value(html, "deadline_confirm") == data["deadline_confirm"]


def test_edit_cycle_deadlines_and_ladder(app: Flask, login_as: Any) -> None:
    cid = demo_ids(app)["cid"]
    client = login_as("sysadmin")
    html = client.get(f"/admin/cycles/{cid}").get_data(as_text=True)
    assert kept_value(html, "reminder_days") == "7, 3, 1"
    # The demo sets its deadlines relative to the day it is loaded.
    assert kept_value(html, "deadline_submit") == demo_deadlines(date.today())[0].isoformat()
    data = {
        "year": "2022",
        "name": "2022年度省级项目支出绩效自评（延期）",
        "deadline_submit": "2023-04-21",
        "deadline_review": "2023-05-05",
        "deadline_confirm": "2023-05-26",
        "reminder_days": "5,2",
        "day_kind": "calendar",
    }
    assert client.post(f"/admin/cycles/{cid}", data=data).status_code == 302
    with app.app_context():
        cycle = db.session.get(Cycle, cid)
        assert cycle is not None
        assert cycle.name.endswith("（延期）")
        assert cycle.deadline_submit == date(2023, 4, 21)
        assert cycle.reminder_days == [5, 2]
        assert cycle.day_kind == "calendar"
        assert cycle.active is False  # the box was not ticked
        assert cycle.scheme_key == "jiangsu-2022"


# --- schemes ---------------------------------------------------------------------------------


def _upload(client: FlaskClient, url: str, name: str, content: bytes, **data: str) -> Any:
    return client.post(
        url, data={**data, "file": (BytesIO(content), name)}, content_type="multipart/form-data"
    )


def test_schemes_lists_builtins(login_as: Any) -> None:
    html = login_as("sysadmin").get("/admin/schemes").get_data(as_text=True)
    for key in scoring.BUILTIN_SCHEMES:
        assert key in html
    assert "内置" in html


def test_upload_invalid_scheme_shows_chinese_problems(login_as: Any) -> None:
    data = scoring.builtin_scheme("jiangsu-2022").to_dict()
    data["name"] = "broken"
    data["tree"][0]["children"][0]["indicators"][0]["weight"] = "-3"
    resp = _upload(
        login_as("sysadmin"),
        "/admin/schemes",
        "broken.json",
        json.dumps(data, ensure_ascii=False).encode(),
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'data-testid="scheme-problems"' in html
    problems = re.findall(r"<li>([^<]+)</li>", html[html.index('data-testid="scheme-problems"') :])
    assert problems == [p.replace('"', "&#34;") for p in scoring.validate_scheme(data)]
    assert all(re.search(r"[\u4e00-\u9fff]", p) for p in problems)


def test_upload_unparseable_and_wrong_type(login_as: Any) -> None:
    client = login_as("sysadmin")
    html = _upload(client, "/admin/schemes", "bad.yaml", b"name: [unclosed").get_data(as_text=True)
    assert "不是有效的 JSON/YAML" in html
    html = _upload(client, "/admin/schemes", "scheme.exe", b"MZ").get_data(as_text=True)
    assert field_error(html, "file") == "只能上传 .json、.yaml 或 .yml 文件"
    html = client.post("/admin/schemes", data={}).get_data(as_text=True)
    assert field_error(html, "file") == "请选择文件"


def test_upload_valid_yaml_scheme_then_use_it_in_a_cycle(app: Flask, login_as: Any) -> None:
    import yaml

    data = scoring.builtin_scheme("central").to_dict()
    data["name"] = "test-upload"
    data["title"] = "上传的测试指标体系"
    client = login_as("sysadmin")
    resp = _upload(
        client, "/admin/schemes", "mine.yaml", yaml.safe_dump(data, allow_unicode=True).encode()
    )
    assert resp.status_code == 302
    html = client.get("/admin/schemes").get_data(as_text=True)
    assert "上传的测试指标体系" in html and "上传" in html
    resp = client.post("/admin/cycles/new", data={**CYCLE, "scheme_key": "test-upload"})
    assert resp.status_code == 302
    with app.app_context():
        cycle = db.session.scalar(select(Cycle).where(Cycle.name == CYCLE["name"]))
        assert cycle is not None and cycle.scheme_key == "test-upload"
        assert cycle.scheme["title"] == "上传的测试指标体系"


def test_builtin_name_cannot_be_overwritten(login_as: Any) -> None:
    data = scoring.builtin_scheme("central").to_dict()
    resp = _upload(
        login_as("sysadmin"), "/admin/schemes", "central.json", json.dumps(data).encode()
    )
    assert "内置指标体系的名称" in resp.get_data(as_text=True)


# --- import ----------------------------------------------------------------------------------


def _seed_bytes() -> bytes:
    return files("scoring").joinpath("samples/jiangsu_2022_seed.tsv").read_bytes()


def test_import_seed_form_into_cycle_and_unit(app: Flask, login_as: Any) -> None:
    ids = demo_ids(app)
    unit_id = org_id(app, "江苏省政务服务中心")
    resp = _upload(
        login_as("sysadmin"),
        "/admin/import",
        "seed.tsv",
        _seed_bytes(),
        cycle_id=str(ids["cid"]),
        unit_id=str(unit_id),
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    html = resp.get_data(as_text=True)
    assert 'data-testid="import-done"' in html
    assert "发现的问题" in html
    expected = scoring.import_form(_seed_bytes().decode("utf-8"))
    assert f"发现的问题（{len(expected.problems)} 条）" in html
    with app.app_context():
        ev = db.session.scalar(
            select(Evaluation).where(Evaluation.unit_id == unit_id).order_by(Evaluation.id.desc())
        )
        assert ev is not None and ev.state == "draft"
        assert ev.published is not None and ev.published["total"] == expected.published_total
        assert ev.entries


def test_import_unreadable_file_shows_reason(app: Flask, login_as: Any) -> None:
    ids = demo_ids(app)
    unit_id = org_id(app, "江苏省政务服务中心")
    resp = _upload(
        login_as("sysadmin"),
        "/admin/import",
        "notes.txt",
        "这不是一张自评表\n".encode(),
        cycle_id=str(ids["cid"]),
        unit_id=str(unit_id),
    )
    assert resp.status_code == 422
    assert field_error(resp.get_data(as_text=True), "file").startswith("无法读取该表：")


def test_import_requires_a_unit(app: Flask, login_as: Any) -> None:
    ids = demo_ids(app)
    dept_id = org_id(app, "江苏省数据局")
    resp = _upload(
        login_as("sysadmin"),
        "/admin/import",
        "seed.tsv",
        _seed_bytes(),
        cycle_id=str(ids["cid"]),
        unit_id=str(dept_id),
    )
    assert resp.status_code == 422
    assert field_error(resp.get_data(as_text=True), "unit_id") == "请从列表中选择"


# --- failed reminders ------------------------------------------------------------------------


def test_failed_reminders_are_listed_escaped(app: Flask, login_as: Any) -> None:
    client = login_as("sysadmin")
    assert 'data-testid="no-failed-reminders"' in client.get("/admin/reminders").get_data(
        as_text=True
    )
    with app.app_context():
        ev = db.session.scalar(select(Evaluation))
        user = db.session.scalar(select(User).where(User.username == "unit_a"))
        assert ev and user
        db.session.add_all(
            [
                ReminderClaim(
                    evaluation_id=ev.id,
                    stage="submit",
                    step="d3",
                    user_id=user.id,
                    deadline=date(2023, 4, 14),
                    status="failed",
                    attempts=3,
                    last_error="550 <mailbox unavailable>",
                ),
                ReminderClaim(
                    evaluation_id=ev.id,
                    stage="submit",
                    step="d7",
                    user_id=user.id,
                    deadline=date(2023, 4, 14),
                    status="sent",
                    attempts=1,
                ),
            ]
        )
        db.session.commit()
    html = client.get("/admin/reminders").get_data(as_text=True)
    table = html[html.index('data-testid="failed-reminders"') :]
    assert "550 &lt;mailbox unavailable&gt;" in table
    assert "d3" in table and "d7" not in table
    assert "单位填报" in table
    assert 'data-testid="failed-count">1 条' in client.get("/admin/").get_data(as_text=True)


# --- CSRF ------------------------------------------------------------------------------------


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_admin_forms_carry_a_working_csrf_token(sqlite_template: Any, tmp_path: Any) -> None:
    from tests.conftest import make_sqlite_app

    app = make_sqlite_app(sqlite_template, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    data = {"username": "sysadmin", "password": PASSWORD, "csrf_token": token}
    resp = client.post("/login", data=data)
    assert resp.status_code == 302
    from tests.conftest import second_step

    second_step(client, "sysadmin", resp.headers["Location"], csrf_token=token)
    org = {"name": "带令牌的部门", "kind": "department", "parent_id": "0"}
    assert client.post("/admin/orgs", data=org).status_code == 400
    for page in (
        "/admin/orgs",
        "/admin/users",
        "/admin/cycles/new",
        "/admin/schemes",
        "/admin/import",
    ):
        html = client.get(page).get_data(as_text=True)
        assert html.count('name="csrf_token"') == html.count('method="post"'), page
    token = _token(client.get("/admin/orgs").get_data(as_text=True))
    assert client.post("/admin/orgs", data={**org, "csrf_token": token}).status_code == 302


def _failed_claims(app: Flask, n: int) -> list[int]:
    with app.app_context():
        ev = db.session.scalars(select(Evaluation).order_by(Evaluation.id)).first()
        users = db.session.scalars(select(User).order_by(User.id).limit(n)).all()
        claims = [
            ReminderClaim(
                evaluation_id=ev.id,
                stage="submit",
                step="d3",
                user_id=u.id,
                deadline=date(2026, 3, 31),
                status="failed",
                attempts=7,
                last_error="SMTP 连接被拒绝",
            )
            for u in users
        ]
        db.session.add_all(claims)
        db.session.commit()
        return [c.id for c in claims]


def test_admin_resends_one_then_all_exactly_once(app: Flask, login_as: Any) -> None:
    from workflow.models import AuditLog

    app.config["OUTBOX_DISPATCH"] = True
    app.extensions["celery"].conf.update(task_always_eager=True, task_eager_propagates=True)
    first, *rest = _failed_claims(app, 3)
    client = login_as("sysadmin")
    page = client.get("/admin/reminders").get_data(as_text=True)
    assert f'data-testid="resend-{first}"' in page and 'data-testid="resend-all"' in page
    resp = client.post(f"/admin/reminders/{first}/resend", follow_redirects=True)
    assert "已重新发送 1 封邮件" in resp.get_data(as_text=True)
    again = client.post(f"/admin/reminders/{first}/resend", follow_redirects=True)
    assert "没有可重新发送的邮件" in again.get_data(as_text=True)
    resp = client.post("/admin/reminders/resend-all", follow_redirects=True)
    assert "已重新发送 2 封邮件" in resp.get_data(as_text=True)
    with app.app_context():
        audit = db.session.scalars(select(AuditLog).where(AuditLog.event == "resend_mail")).all()
        assert sorted(a.scores["claim_id"] for a in audit) == sorted([first, *rest])
        statuses = {c.status for c in db.session.scalars(select(ReminderClaim))}
        # Sent (suppressed mail), or skipped when the user has no address: never failed.
        assert statuses <= {"sent", "skipped"}
    assert client.post("/admin/reminders/resend-all").status_code == 302


def test_resend_command(app: Flask) -> None:
    ids = _failed_claims(app, 1)
    app.extensions["celery"].conf.update(task_always_eager=True, task_eager_propagates=True)
    runner = app.test_cli_runner()
    both = runner.invoke(args=["reminders", "resend", str(ids[0]), "--all", "--as", "sysadmin"])
    assert both.exit_code == 2 and "二者选一" in both.output
    not_admin = runner.invoke(args=["reminders", "resend", "--all", "--as", "finance"])
    assert not_admin.exit_code == 2 and "不是有效的系统管理员" in not_admin.output
    ok = runner.invoke(args=["reminders", "resend", str(ids[0]), "--as", "sysadmin"])
    assert ok.exit_code == 0 and "重新发送 1 条，已排队 1 条" in ok.output, ok.output
    twice = runner.invoke(args=["reminders", "resend", "--all", "--as", "sysadmin"])
    assert twice.exit_code == 0 and "重新发送 0 条" in twice.output
