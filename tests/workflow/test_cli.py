"""Operators' commands go through the same policy and state machine as the pages."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from tests.workflow.helpers import in_state
from workflow.core.extensions import db
from workflow.models import AuditLog, Evaluation, User


def run(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def test_evaluations_list_json(app: Flask) -> None:
    result = run(app, "evaluations", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 8
    assert {"id", "unit", "project", "state", "self_total", "dept_total", "final_total"} <= set(
        rows[0]
    )


def test_fire_allowed_and_refused(app: Flask) -> None:
    with app.app_context():
        ev_id = in_state("self_scored")[0].id
    refused = run(app, "evaluations", "fire", str(ev_id), "start_review", "--as", "reviewer_2")
    assert refused.exit_code != 0
    assert "操作被拒绝" in refused.output and "未找到" in refused.output
    no_reason = run(app, "evaluations", "fire", str(ev_id), "withdraw", "--as", "sysadmin")
    assert no_reason.exit_code != 0
    ok = run(app, "evaluations", "fire", str(ev_id), "start_review", "--as", "reviewer")
    assert ok.exit_code == 0, ok.output
    assert "主管部门审核中" in ok.output
    ret = run(app, "evaluations", "fire", str(ev_id), "return", "--as", "reviewer")
    assert ret.exit_code != 0 and "原因" in ret.output
    with app.app_context():
        ev = db.session.get(Evaluation, ev_id)
        assert ev.state == "dept_review"
        last = db.session.scalars(
            select(AuditLog).where(AuditLog.evaluation_id == ev_id).order_by(AuditLog.id.desc())
        ).first()
        assert last.event == "start_review" and last.actor.username == "reviewer"


def test_import_form_as_draft_and_into_a_later_state(app: Flask, tmp_path: Path) -> None:
    seed = tmp_path / "seed.tsv"
    seed.write_text(
        files("scoring").joinpath("samples/jiangsu_2022_seed.tsv").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    draft = run(app, "import-form", str(seed), "--cycle", "1", "--unit", "江苏省政务服务中心")
    assert draft.exit_code == 0, draft.output
    refused = run(
        app,
        "import-form",
        str(seed),
        "--cycle",
        "1",
        "--unit",
        "江苏省政务服务中心",
        "--state",
        "confirmed",
    )
    assert refused.exit_code != 0 and "--reason" in refused.output
    later = run(
        app,
        "import-form",
        str(seed),
        "--cycle",
        "1",
        "--unit",
        "江苏省政务服务中心",
        "--state",
        "confirmed",
        "--as",
        "sysadmin",
        "--reason",
        "补录2022年度已确认结果",
    )
    assert later.exit_code == 0, later.output
    with app.app_context():
        ev = db.session.scalars(select(Evaluation).order_by(Evaluation.id.desc())).first()
        assert ev.state == "confirmed" and str(ev.final_total) == "98.50" and ev.final_grade == "优"
        assert ev.published["total"] == "98.5"
        created, moved = db.session.scalars(
            select(AuditLog).where(AuditLog.evaluation_id == ev.id).order_by(AuditLog.id)
        ).all()
        assert (created.event, created.to_state, created.actor.username) == (
            "import",
            "draft",
            "sysadmin",
        )
        assert (moved.event, moved.from_state, moved.to_state) == ("import", "draft", "confirmed")
        assert moved.reason == "补录2022年度已确认结果"
    with app.app_context():
        first = db.session.scalars(select(Evaluation).order_by(Evaluation.id.desc())).all()[1]
        [draft_row] = db.session.scalars(
            select(AuditLog).where(AuditLog.evaluation_id == first.id)
        ).all()
        assert draft_row.event == "import" and draft_row.actor_name == "命令行导入"


def test_import_unreadable_file(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"\x00\x01\x02binary")
    result = run(app, "import-form", str(bad), "--cycle", "1", "--unit", "江苏省政务服务中心")
    assert result.exit_code == 2
    assert "无法读取" in result.output
    assert "Traceback" not in result.output


def test_users_create_disable_and_list(app: Flask) -> None:
    created = run(
        app,
        "users",
        "create",
        "new_staff",
        "--name",
        "新同事",
        "--role",
        "unit_staff",
        "--org",
        "江苏省政务服务中心",
        "--password",
        "Long-enough-pw",
    )
    assert created.exit_code == 0, created.output
    wrong_org = run(
        app,
        "users",
        "create",
        "bad_rev",
        "--name",
        "x",
        "--role",
        "reviewer",
        "--org",
        "江苏省政务服务中心",
        "--password",
        "Long-enough-pw",
    )
    assert wrong_org.exit_code != 0 and "主管部门" in wrong_org.output
    with app.app_context():
        token = db.session.scalar(select(User.session_token).where(User.username == "new_staff"))
    assert run(app, "users", "disable", "new_staff").exit_code == 0
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "new_staff"))
        assert not user.active and user.session_token != token
    listing = run(app, "users", "list")
    assert "new_staff" in listing.output and "停用" in listing.output
