"""The targets pages end to end on the demo world: the 绩效目标申报表, its checks shown beside
the rows, submit / return / approve, adjustments, races, access, notices and the audit log."""

from __future__ import annotations

import json
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import scoring
from tests.conftest import login
from workflow.core.extensions import db
from workflow.evaluations import operations as evaluation_ops
from workflow.models import (
    AuditLog,
    Cycle,
    Evaluation,
    LibraryIndicator,
    Notice,
    OutboxMessage,
    Project,
    TargetSet,
)

TRAINING = "政务服务人员业务能力培训"  # unit_a's targets, a draft in the demo
KIOSKS = "政务大厅自助终端设备购置"  # unit_b's, submitted
ROADS = "数据中心配套道路养护补助"  # unit_c's, returned
ADJUSTED = "数据共享交换平台升级"  # unit_c's, approved then adjusted, its evaluation a draft

VALID = [
    ("产出", "数量指标", "培训人次", ">=", "800", "人次", "10"),
    ("产出", "质量指标", "培训考核合格率", ">=", "95", "%", "10"),
    ("产出", "时效指标", "培训完成时间", "date", "2022-10-31", "", "5"),
    ("产出", "成本指标", "人均培训成本", "<=", "700", "元/人次", "5"),
    ("效益", "社会效益", "业务能力提升", "定性", "明显提升", "", "30"),
    ("满意度", "服务对象满意度", "参训人员满意度", ">=", "90", "%", "10"),
]
KEYS = ("level1", "level2", "name", "nature", "value", "unit", "weight")


def _as(app: Flask, username: str) -> FlaskClient:
    """A fresh client per user: logging in again on one client keeps the first session."""
    client = app.test_client()
    login(client, username)
    return client


def _targets_id(app: Flask, project: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(TargetSet.id).join(Project).where(Project.name == project))
        assert found is not None
        return int(found)


def _targets(app: Flask, targets_id: int) -> TargetSet:
    with app.app_context():
        found = db.session.get(TargetSet, targets_id)
        assert found is not None
        db.session.expunge(found)
        return found


def _form(
    rows: list[tuple[str, ...]], action: str, version: int, goal: str = "年度目标", **extra: str
) -> dict[str, Any]:
    data: dict[str, Any] = {f"{k}[]": [row[i] for row in rows] for i, k in enumerate(KEYS)}
    data["code[]"] = ["" for _ in rows]
    data["library_id[]"] = ["" for _ in rows]
    data["source[]"] = ["typed" for _ in rows]
    data.update(goal=goal, action=action, version=str(version), **extra)
    return data


def _audit(app: Flask, targets_id: int) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.targets_id == targets_id).order_by(AuditLog.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


# --- the page and its checks -----------------------------------------------------------------


def test_the_unit_sees_its_draft_laid_out_as_the_form(app: Flask, login_as: Any) -> None:
    tid = _targets_id(app, TRAINING)
    html = login_as("unit_a").get(f"/targets/{tid}").get_data(as_text=True)
    for label in (
        "年度总体目标",
        "一级指标",
        "二级指标",
        "三级指标",
        "指标性质",
        "指标值",
        "度量单位",
        "分值",
    ):
        assert label in html
    assert 'value="培训人次"' in html
    # The framework's second-level names and the library are offered.
    assert '<option value="服务对象满意度"' in html
    assert 'data-testid="library-pick"' in html and "项目验收合格率" in html


# One row of VALID changed, and the message the check gives (naming the row where it has one).
CHECKS = [
    (1, {"level2": "经济效益"}, "第2行（培训考核合格率）：二级指标“经济效益”不属于“产出”"),
    (0, {"value": "八百"}, "第1行（培训人次）：定量指标的指标值须为数字，“八百”不是数字"),
    (0, {"unit": ""}, "第1行（培训人次）：定量指标须填写度量单位"),
    (2, {"value": "年底"}, "第3行（培训完成时间）：日期型指标的指标值须为日期"),
    (4, {"value": ""}, "第5行（业务能力提升）：定性指标须填写指标值"),
    (0, {"weight": "十"}, "第1行（培训人次）：分值“十”不是数字"),
    (0, {"weight": "12"}, "“产出”各指标分值合计 32，应为 30"),
    (0, {"name": ""}, "第1行（（未填名称））：须填写三级指标名称"),
    (0, {"level1": "决策"}, "第1行（培训人次）：“决策”是评价框架的共用指标"),
    (5, {"level1": "产出", "level2": "数量指标", "weight": "10"}, "“满意度”至少须有一个三级指标"),
    (0, {"weight": "10.005"}, "第1行（培训人次）：分值最多两位小数"),
]


@pytest.mark.parametrize(("index", "change", "message"), CHECKS)
def test_each_check_is_shown_beside_its_row_and_keeps_what_was_typed(
    app: Flask, login_as: Any, index: int, change: dict[str, str], message: str
) -> None:
    tid = _targets_id(app, TRAINING)
    client = login_as("unit_a")
    rows = [list(row) for row in VALID]
    for key, value in change.items():
        rows[index][KEYS.index(key)] = value
    version = _targets(app, tid).version
    resp = client.post(f"/targets/{tid}", data=_form([tuple(r) for r in rows], "save", version))
    assert resp.status_code == 302
    html = client.get(f"/targets/{tid}").get_data(as_text=True)
    assert message in html
    if "第" in message.split("：")[0]:
        # Beside its row, not only in a list on top.
        block = html.split(f'data-testid="problems-{index + 1}"', 1)[1].split("</td>", 1)[0]
        assert message in block
    for key, value in change.items():
        if value and key not in ("level1", "level2"):
            assert f'value="{value}"' in html  # kept as typed
    # 提交 refuses with the same message and moves nothing.
    version = _targets(app, tid).version
    resp = client.post(f"/targets/{tid}", data=_form([tuple(r) for r in rows], "submit", version))
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert _targets(app, tid).state == "draft"


def test_rows_are_added_removed_and_moved_without_javascript(app: Flask, login_as: Any) -> None:
    tid = _targets_id(app, TRAINING)
    client = login_as("unit_a")
    rows = list(VALID)

    def post(action: str, **extra: str) -> list[dict[str, Any]]:
        # The page posts back what it shows: the rows as last saved.
        nonlocal rows
        version = _targets(app, tid).version
        assert (
            client.post(f"/targets/{tid}", data=_form(rows, action, version, **extra)).status_code
            == 302
        )
        saved = list(_targets(app, tid).draft["rows"])
        rows = [tuple(str(r.get(k, "")) for k in KEYS) for r in saved]
        return saved

    saved = post("add")
    assert len(saved) == 7 and saved[-1]["name"] == ""
    saved = post("remove:6")
    assert [r["name"] for r in saved] == [r[2] for r in VALID]
    saved = post("remove:0")
    assert [r["name"] for r in saved] == [r[2] for r in VALID[1:]]
    saved = post("down:0")
    assert [r["name"] for r in saved][:3] == ["培训完成时间", "培训考核合格率", "人均培训成本"]
    saved = post("up:2")
    assert [r["name"] for r in saved][:3] == ["培训完成时间", "人均培训成本", "培训考核合格率"]
    with app.app_context():
        item = db.session.scalar(
            select(LibraryIndicator).where(LibraryIndicator.name == "资金拨付及时率")
        )
        assert item is not None
        item_id = item.id
    saved = post("library", library_pick=str(item_id))
    assert saved[-1]["name"] == "资金拨付及时率"
    assert saved[-1]["library_id"] == item_id
    assert saved[-1]["level2"] == "时效指标" and saved[-1]["unit"] == "%"


# --- submit, return, approve -----------------------------------------------------------------


def test_submit_return_resubmit_approve_with_audit_and_notices(
    app: Flask, client: FlaskClient
) -> None:
    tid = _targets_id(app, TRAINING)
    client = _as(app, "unit_a")
    version = _targets(app, tid).version
    resp = client.post(f"/targets/{tid}", data=_form(VALID, "submit", version))
    assert resp.status_code == 302
    targets = _targets(app, tid)
    assert targets.state == "submitted"
    # Submitted targets are locked for the unit.
    resp = client.post(f"/targets/{tid}", data=_form(VALID, "save", targets.version))
    assert resp.status_code == 409
    client = _as(app, "reviewer")
    resp = client.post(
        f"/targets/{tid}/review",
        data={"event": "return", "reason": " ", "version": targets.version},
    )
    assert resp.status_code == 400 and "必须填写原因" in resp.get_data(as_text=True)
    resp = client.post(
        f"/targets/{tid}/review",
        data={"event": "return", "reason": "成本指标请补充测算依据", "version": targets.version},
    )
    assert resp.status_code == 302
    targets = _targets(app, tid)
    assert targets.state == "returned" and targets.return_reason == "成本指标请补充测算依据"
    client = _as(app, "unit_a")
    html = client.get(f"/targets/{tid}").get_data(as_text=True)
    assert "退回原因：成本指标请补充测算依据" in html
    fixed = [row if row[2] != "人均培训成本" else (*row[:4], "650", *row[5:]) for row in VALID]
    resp = client.post(f"/targets/{tid}", data=_form(fixed, "submit", targets.version))
    assert resp.status_code == 302
    client = _as(app, "reviewer")
    targets = _targets(app, tid)
    resp = client.post(
        f"/targets/{tid}/review", data={"event": "approve", "version": targets.version}
    )
    assert resp.status_code == 302
    with app.app_context():
        targets = db.session.get(TargetSet, tid)
        assert targets is not None and targets.state == "approved"
        assert [v.number for v in targets.versions] == [1, 2]
        assert targets.current_version is not None and targets.current_version.number == 2
        assert targets.versions[0].approved_at is None  # the returned one was never in force
        in_force = {r["name"]: r["value"] for r in targets.current_version.rows["rows"]}
        assert in_force["人均培训成本"] == "650"
    events = [(a.event, a.from_state, a.to_state, a.actor_name) for a in _audit(app, tid)]
    assert events == [
        ("targets_submit", "draft", "submitted", "张晓"),
        ("targets_return", "submitted", "returned", "陈静"),
        ("targets_submit", "returned", "submitted", "张晓"),
        ("targets_approve", "submitted", "approved", "陈静"),
    ]
    assert _audit(app, tid)[1].reason == "成本指标请补充测算依据"
    # Each step left a notice message in the outbox; handled, they reach the right people.
    from workflow.notices.operations import handle_notify

    with app.app_context():
        messages = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notify").order_by(OutboxMessage.id)
        ).all()
        ours = [m for m in messages if m.payload.get("targets_id") == tid]
        assert [m.payload["event"] for m in ours] == [
            "targets_submit",
            "targets_return",
            "targets_submit",
            "targets_approve",
        ]
        for message in ours:
            handle_notify(message.id)
            handle_notify(message.id)  # a second delivery creates nothing more
        notices = db.session.scalars(select(Notice).where(Notice.kind.like("tm%"))).all()
        by_user = sorted((n.user.username, n.title.split("：")[0]) for n in notices)
        assert by_user == sorted(
            [
                ("reviewer", "单位已提交绩效目标，待审核"),
                ("reviewer", "单位已提交绩效目标，待审核"),
                ("unit_a", "主管部门已退回绩效目标"),
                ("unit_a_head", "主管部门已退回绩效目标"),
                ("unit_a", "主管部门已批复绩效目标"),
                ("unit_a_head", "主管部门已批复绩效目标"),
            ]
        )


def test_the_loser_of_a_race_gets_409(app: Flask, client: FlaskClient) -> None:
    tid = _targets_id(app, KIOSKS)
    version = _targets(app, tid).version
    client = _as(app, "reviewer")
    first = client.post(f"/targets/{tid}/review", data={"event": "approve", "version": version})
    assert first.status_code == 302
    second = client.post(
        f"/targets/{tid}/review", data={"event": "return", "reason": "晚到", "version": version}
    )
    assert second.status_code == 409
    assert "已被他人处理" in second.get_data(as_text=True)
    assert _targets(app, tid).state == "approved"
    # A stale save of the unit is refused the same way.
    tid = _targets_id(app, TRAINING)
    stale = _targets(app, tid).version
    client = _as(app, "unit_a")
    assert client.post(f"/targets/{tid}", data=_form(VALID, "save", stale)).status_code == 302
    assert client.post(f"/targets/{tid}", data=_form(VALID, "save", stale)).status_code == 409


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "project", "status"),
    [
        ("unit_c", TRAINING, 404),  # another unit's targets do not exist for it
        ("unit_b", TRAINING, 404),
        ("reviewer_2", KIOSKS, 404),  # another department's
        ("reviewer", ROADS, 404),
        ("reviewer", KIOSKS, 200),
        ("finance", ROADS, 200),
        ("sysadmin", TRAINING, 200),
    ],
)
def test_who_sees_which_targets(
    app: Flask, login_as: Any, username: str, project: str, status: int
) -> None:
    tid = _targets_id(app, project)
    client = login_as(username)
    assert client.get(f"/targets/{tid}").status_code == status
    assert client.get(f"/targets/{tid}/history").status_code == status
    listed = project in client.get("/targets/").get_data(as_text=True)
    assert listed is (status == 200)


@pytest.mark.parametrize("username", ["unit_c", "reviewer", "finance"])
def test_only_the_own_unit_edits(app: Flask, login_as: Any, username: str) -> None:
    tid = _targets_id(app, TRAINING)
    before = _targets(app, tid)
    resp = login_as(username).post(f"/targets/{tid}", data=_form(VALID, "save", before.version))
    assert resp.status_code in (403, 404)
    assert _targets(app, tid).draft == before.draft


def test_the_unit_cannot_approve_its_own(app: Flask, login_as: Any) -> None:
    tid = _targets_id(app, KIOSKS)
    version = _targets(app, tid).version
    resp = login_as("unit_b").post(
        f"/targets/{tid}/review", data={"event": "approve", "version": version}
    )
    assert resp.status_code == 403
    assert _targets(app, tid).state == "submitted"


# --- self-evaluation from approved targets ---------------------------------------------------


def test_a_self_evaluation_starts_only_from_approved_targets(
    app: Flask, client: FlaskClient
) -> None:
    tid = _targets_id(app, TRAINING)
    client = _as(app, "unit_a")
    resp = client.post(f"/targets/{tid}/start", follow_redirects=True)
    assert "该项目尚无已批复的绩效目标，不能开始自评" in resp.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(Evaluation).join(Project).where(Project.name == TRAINING))
            is None
        )
    version = _targets(app, tid).version
    client.post(f"/targets/{tid}", data=_form(VALID, "submit", version))
    client = _as(app, "reviewer")
    client.post(
        f"/targets/{tid}/review", data={"event": "approve", "version": _targets(app, tid).version}
    )
    client = _as(app, "unit_a")
    resp = client.post(f"/targets/{tid}/start")
    assert resp.status_code == 302 and "/evaluations/" in resp.headers["Location"]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    # The project's own indicators, and none of the seed project's.
    for name in ("培训人次", "培训考核合格率", "参训人员满意度", "≥800人次", "2022年10月31日前"):
        assert name in html
    assert "保障全省13个设区市政务服务子站点稳定运行" not in html
    # The framework's shared indicators are there too.
    assert "立项依据充分性" in html


def test_two_projects_of_one_cycle_are_scored_on_their_own_indicators(app: Flask) -> None:
    with app.app_context():
        evaluations = {
            ev.project.name: ev
            for ev in db.session.scalars(select(Evaluation).join(Project))
            if ev.project.name in ("政务服务中心窗口服务提升", "12345热线知识库建设")
        }
        training = evaluation_ops.scheme_of(evaluations["政务服务中心窗口服务提升"])
        hotline = evaluation_ops.scheme_of(evaluations["12345热线知识库建设"])
        names = lambda s: {i.path[2] for i in s.indicators if i.path[0] == "产出"}  # noqa: E731
        assert "培训人次" in names(training) and "知识库条目数" in names(hotline)
        assert not names(training) & names(hotline)
        # The same entry pattern scores each against its own targets.
        card_t = scoring.score(training, {"quantity_1": {"actual": "300"}})
        card_h = scoring.score(hotline, {"quantity_1": {"actual": "300"}})
        row_t = next(r for r in card_t.rows if r.code == "quantity_1")
        row_h = next(r for r in card_h.rows if r.code == "quantity_1")
        # 300 of 600 人次 (weight 8) and 300 of 5,000 条 (weight 10).
        assert row_t.score == Decimal("4.00")
        assert row_h.score == Decimal("0.60")
        # Their frozen scores (submitted in the demo) came from their own schemes.
        for ev in evaluations.values():
            assert ev.self_total == scoring.score(evaluation_ops.scheme_of(ev), ev.entries).total


# --- adjustments -----------------------------------------------------------------------------


def test_the_adjusted_target_is_scored_and_shown_with_the_original(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        ev = db.session.scalar(select(Evaluation).join(Project).where(Project.name == ADJUSTED))
        assert ev is not None
        ev_id = ev.id
        scheme = evaluation_ops.scheme_of(ev)
        target = next(i for i in scheme.indicators if i.path[2] == "项目验收合格率")
        assert target.target.value == Decimal("95")  # the adjusted value is the one in force
        code = target.code
        # 96 meets the adjusted ≥95 (full marks) though it missed the original ≥98.
        card = scoring.score(scheme, {code: {"actual": "96"}})
        assert next(r for r in card.rows if r.code == code).score == target.weight
    client = _as(app, "unit_c")
    html = client.get(f"/evaluations/{ev_id}/edit").get_data(as_text=True)
    cell = html.split(f'data-testid="target-{code}"', 1)[1].split("</td>", 1)[0]
    assert "≥95%（2022-06-30 调整，原 ≥98%）" in cell
    history = client.get(f"/targets/{_targets_id(app, ADJUSTED)}/history").get_data(as_text=True)
    assert "项目验收合格率：≥98% → ≥95%" in history
    assert "受上游系统改造推迟影响" in history


def test_an_adjustment_needs_a_reason_and_the_department_keeps_the_old_in_force(
    app: Flask, client: FlaskClient
) -> None:
    tid = _targets_id(app, "一体化政务服务平台安全运维")
    with app.app_context():
        targets = db.session.get(TargetSet, tid)
        assert targets is not None and targets.current_version is not None
        rows = [
            tuple(str(r.get(k, "")) for k in KEYS) for r in targets.current_version.rows["rows"]
        ]
        codes = [r["code"] for r in targets.current_version.rows["rows"]]
        in_force = targets.current_version.id
        ev = db.session.scalar(
            select(Evaluation).where(Evaluation.project_id == targets.project_id)
        )
        assert ev is not None and ev.state == "draft"
        ev_id = ev.id
    changed = [r if r[2] != "安全巡检次数" else (*r[:4], "10", *r[5:]) for r in rows]
    client = _as(app, "unit_a")
    data = _form(changed, "adjust", _targets(app, tid).version)
    data["code[]"] = codes
    resp = client.post(f"/targets/{tid}/adjust", data=data)
    assert resp.status_code == 400 and "必须填写原因" in resp.get_data(as_text=True)
    assert _targets(app, tid).state == "approved"
    data = _form(changed, "adjust", _targets(app, tid).version, reason="巡检改为按季度开展")
    data["code[]"] = codes
    assert client.post(f"/targets/{tid}/adjust", data=data).status_code == 302
    targets = _targets(app, tid)
    assert targets.state == "submitted" and targets.pending_kind == "adjustment"
    assert targets.current_version_id == in_force  # still the approved one
    with app.app_context():
        ev = db.session.get(Evaluation, ev_id)
        assert ev is not None and ev.target_version_id == in_force
    client = _as(app, "reviewer")
    client.post(f"/targets/{tid}/review", data={"event": "approve", "version": targets.version})
    with app.app_context():
        targets_now = db.session.get(TargetSet, tid)
        assert targets_now is not None and targets_now.current_version_id != in_force
        assert targets_now.current_version.kind == "adjustment"
        assert targets_now.current_version.reason == "巡检改为按季度开展"
        ev = db.session.get(Evaluation, ev_id)
        assert ev is not None and ev.target_version_id == targets_now.current_version_id
        scheme = evaluation_ops.scheme_of(ev)
        patrol = next(i for i in scheme.indicators if i.path[2] == "安全巡检次数")
        assert patrol.target.value == Decimal("10")
        assert {r.code for r in ev.rows} == {i.code for i in scheme.indicators}
    assert [a.event for a in _audit(app, tid)][-2:] == ["targets_adjust", "targets_approve"]


# --- finance imports approved targets --------------------------------------------------------


def test_finance_imports_approved_targets_from_the_budget_system(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        cycle = db.session.scalar(select(Cycle))
        assert cycle is not None
        cycle_id = cycle.id
        from workflow.models import Org

        unit = db.session.scalar(select(Org).where(Org.name == "江苏省政务服务中心"))
        assert unit is not None
        unit.code = "320001"
        db.session.commit()
    rows = [dict(zip(KEYS, row, strict=True)) for row in VALID]
    payload = {
        "projects": [
            {
                "project_code": "P-1",
                "unit_code": "320001",
                "year": 2022,
                "goal": "目标一",
                "project_name": "导入项目一",
                "rows": rows,
            },
            {
                "project_code": "P-2",
                "unit_code": "320001",
                "year": 2022,
                "goal": "目标二",
                "project_name": "导入项目二",
                "rows": rows,
            },
        ]
    }
    client = _as(app, "unit_b")
    assert client.get("/targets/import").status_code == 404
    client = _as(app, "finance")
    bad = json.loads(json.dumps(payload))
    bad["projects"][1]["rows"][0]["weight"] = "99"
    resp = client.post(
        "/targets/import",
        data={"cycle_id": cycle_id, "file": (BytesIO(json.dumps(bad).encode()), "budget.json")},
    )
    assert resp.status_code == 422
    assert "第2个项目（P-2）：“产出”各指标分值合计" in resp.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(Project).where(Project.code == "P-1")) is None
        )  # all or nothing
    resp = client.post(
        "/targets/import",
        data={
            "cycle_id": cycle_id,
            "file": (BytesIO(json.dumps(payload).encode()), "budget-2022.json"),
        },
    )
    assert resp.status_code == 200 and "已导入：导入项目一、导入项目二" in resp.get_data(
        as_text=True
    )
    with app.app_context():
        imported = db.session.scalars(
            select(TargetSet).join(Project).where(Project.code.in_(["P-1", "P-2"]))
        ).all()
        assert [t.state for t in imported] == ["approved", "approved"]
        audits = db.session.scalars(
            select(AuditLog).where(AuditLog.targets_id.in_([t.id for t in imported]))
        ).all()
        assert len(audits) == 2
        assert all(a.event == "targets_import" and a.actor_name == "孙丽" for a in audits)
        assert all("budget-2022.json" in (a.reason or "") for a in audits)
        # They can start their self-evaluations at once.
        project = imported[0].project
        ev = evaluation_ops.create_evaluation(project, imported[0].cycle)
        assert "培训人次" in {i.path[2] for i in evaluation_ops.scheme_of(ev).indicators}
        db.session.rollback()
