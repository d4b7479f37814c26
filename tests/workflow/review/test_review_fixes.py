"""Defects found by a second reading: each one pinned by a test."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.workflow.helpers import in_state, seed_evaluation
from tests.workflow.pagehelpers import client_as
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.models import AuditLog, Evaluation, User


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("reviewer", "/evaluations/?unit=²"),
        ("reviewer", "/evaluations/?page=²"),
        ("reviewer", "/evaluations/?cycle=١"),
        ("reviewer", "/review/?page=²"),
        ("finance", "/finance/?unit=²"),
        ("unit_a", "/notices/?page=²"),
        ("finance", "/dashboard/?cycle=²"),
    ],
)
def test_unicode_digits_in_the_query_string_are_not_a_500(
    app: Flask, username: str, url: str
) -> None:
    resp = client_as(app, username).get(url)
    assert resp.status_code in (200, 404), (url, resp.status_code)


def test_unicode_digits_in_forms_are_not_a_500(app: Flask) -> None:
    with app.app_context():
        ev_id = in_state("self_scored")[0].id
    unit = client_as(app, "unit_b")
    assert (
        unit.post(f"/evaluations/{ev_id}/events/withdraw", data={"version": "²"}).status_code != 500
    )
    finance = client_as(app, "finance")
    assert finance.post("/finance/bulk", data={"ids": "²", "v-1": "²"}).status_code != 500
    admin = client_as(app, "sysadmin")
    resp = admin.post("/admin/cycles/1", data={"reminder_days": "7,²"})
    assert resp.status_code != 500


def test_an_exponent_past_the_decimal_range_is_a_message(app: Flask) -> None:
    with app.app_context():
        ev = seed_evaluation()
        code = ev.rows[0].code
        ev_id, version = ev.id, ev.version
    unit = client_as(app, "unit_a")
    resp = unit.post(
        f"/evaluations/{ev_id}/edit",
        data={"version": str(version), "do": "save", f"e-{code}-score": "1e999999999"},
    )
    # 保存草稿 keeps what was typed; the form shows it again with its message, never a 500.
    assert resp.status_code == 302, resp.status_code
    page = unit.get(f"/evaluations/{ev_id}/edit").get_data(as_text=True)
    assert "1e999999999" in page and "不是有效数值" in page
    reviewer_ev = in_state_id(app, "dept_review")
    reviewer = client_as(app, "reviewer")
    with app.app_context():
        ev = db.session.get(Evaluation, reviewer_ev)
        fields = {f"s-{r.code}": "1e999999999" for r in ev.rows[:1]}
        fields["version"] = str(ev.version)
    assert reviewer.post(f"/review/{reviewer_ev}", data=fields).status_code == 422


def in_state_id(app: Flask, state: str) -> int:
    with app.app_context():
        return in_state(state)[0].id


def test_admin_web_import_leaves_an_audit_row(app: Flask) -> None:
    import io
    from importlib.resources import files

    text = files("scoring").joinpath("samples/jiangsu_2022_seed.tsv").read_bytes()
    with app.app_context():
        unit_id = db.session.scalar(select(User.org_id).where(User.username == "unit_b"))
    admin = client_as(app, "sysadmin")  # the login itself writes a security-event row
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditLog))
    resp = admin.post(
        "/admin/import",
        data={"file": (io.BytesIO(text), "seed.tsv"), "cycle_id": "1", "unit_id": str(unit_id)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200, resp.status_code
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(2)).all()
        # The form's own indicators became the project's approved targets (their own audit
        # row), then the evaluation was imported as a draft.
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before + 2
        row, targets_row = rows
        assert (
            row.event == "import" and row.actor.username == "sysadmin" and row.to_state == "draft"
        )
        assert targets_row.event == "targets_import" and targets_row.actor.username == "sysadmin"
        assert targets_row.targets_id is not None and "seed" in (targets_row.reason or "")


def test_saving_after_a_colleague_submitted_keeps_the_typed_text(app: Flask) -> None:
    with app.app_context():
        ev = seed_evaluation()
        ev_id, version = ev.id, ev.version
        head = db.session.scalar(select(User).where(User.username == "unit_a_head"))
        operations.fire(head, ev_id, "submit")
    unit = client_as(app, "unit_a")
    resp = unit.post(
        f"/evaluations/{ev_id}/edit",
        data={
            "version": str(version),
            "do": "save",
            "main_results": "刚刚输入的主要成效 TYPED-123",
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "已被他人处理，请刷新后重试" in html and "TYPED-123" in html


def test_a_role_that_never_edits_gets_403_not_a_conflict(app: Flask) -> None:
    with app.app_context():
        ev = seed_evaluation()
        ev_id, version = ev.id, ev.version
    reviewer = client_as(app, "reviewer")
    resp = reviewer.post(f"/evaluations/{ev_id}/edit", data={"version": str(version), "do": "save"})
    assert resp.status_code == 403
