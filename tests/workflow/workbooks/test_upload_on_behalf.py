"""代为上传: a department uploads filled 自评表 workbooks for its units' drafts, finance for
every unit's; a result per file; the save is the form's own save_draft (version check, seal,
outdated files), audited with who and which file, and the unit told through the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.workflow.pagehelpers import SEED, client_as, ev_id, version
from tests.workflow.sheethelpers import (
    BUDGET,
    ON_BEHALF_URL,
    cells_of,
    download,
    fill,
    post_files,
    result_rows,
    zip_sheets,
)
from workflow.core.extensions import db
from workflow.models import AuditLog, Evaluation, Notice, OutboxMessage, User

OTHER_A = "一体化政务服务平台安全运维"  # unit A's second draft
UNIT_C_DRAFT = "数据共享交换平台升级"  # a draft of 江苏省大数据管理中心 (the other department)
SUBMITTED_B = "政务服务中心窗口服务提升"  # unit B's, submitted (已自评)
IN_REVIEW_B = "12345热线知识库建设"  # unit B's, in the department's review


def _entries(app: Flask, evaluation_id: int) -> dict[str, Any]:
    with app.app_context():
        return dict(db.session.get(Evaluation, evaluation_id).entries or {})


def _audits(app: Flask, evaluation_id: int) -> list[AuditLog]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditLog)
                .where(
                    AuditLog.evaluation_id == evaluation_id, AuditLog.event == "upload_on_behalf"
                )
                .order_by(AuditLog.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def _notify_messages(app: Flask, evaluation_id: int) -> list[int]:
    with app.app_context():
        return [
            m.id
            for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notify"))
            if (m.payload or {}).get("event") == "upload_on_behalf"
            and m.payload.get("evaluation_id") == evaluation_id
        ]


def _cycle(app: Flask, evaluation_id: int) -> int:
    with app.app_context():
        return int(db.session.get(Evaluation, evaluation_id).cycle_id)


def test_department_uploads_two_sheets_of_its_units_from_the_zip(any_app: Flask) -> None:
    app = any_app
    seed, other = ev_id(app, SEED), ev_id(app, OTHER_A)
    reviewer = client_as(app, "reviewer")
    sheets = zip_sheets(reviewer, _cycle(app, seed))
    before = version(app, seed), version(app, other)
    first = fill(
        sheets[seed],
        {
            f"e-{BUDGET}-numerator": 912.5,
            f"e-{BUDGET}-denominator": 1000,
            f"e-{BUDGET}-reason": "部分采购项目延期至次年支付",
        },
    )
    second = fill(sheets[other], {f"e-{BUDGET}-numerator": "九十", "problems": "进度滞后。"})
    resp = post_files(reviewer, ON_BEHALF_URL, [(first, "机关-平台.xlsx"), (second, "运维.xlsx")])
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    rows = result_rows(body)
    assert len(rows) == 2
    assert "机关-平台.xlsx" in rows[0] and "已保存到单位草稿；已通知填报单位" in rows[0]
    assert "江苏省政务服务管理办公室（机关）" in rows[0] and SEED in rows[0]
    # The bad cell is named; the rest of the file is saved.
    num = cells_of(second)[f"e-{BUDGET}-numerator"]
    assert "已保存到单位草稿，1 处有误未保存" in rows[1]
    assert f"{num} 实际支出资金：&#39;九十&#39; 不是数字" in rows[1]
    assert "共 2 个文件：2 个已保存（其中 1 个有单元格未保存），0 个未保存" in body

    entries = _entries(app, seed)
    assert entries[BUDGET]["numerator"] == "912.5"
    assert entries[BUDGET]["reason"] == "部分采购项目延期至次年支付"
    assert _entries(app, other)[BUDGET].get("numerator", "") != "九十"
    with app.app_context():
        assert db.session.get(Evaluation, other).problems == "进度滞后。"
    assert (version(app, seed), version(app, other)) == (before[0] + 1, before[1] + 1)

    # One audit row per saved file: who, on whose behalf, which file.
    (audit,) = _audits(app, seed)
    assert audit.role == "reviewer" and audit.actor_name == "陈静"
    assert audit.org_name == "江苏省政务服务管理办公室"
    assert audit.from_state == audit.to_state == "draft"
    assert audit.version == version(app, seed)
    assert "（主管部门）陈静 代为上传 Excel 文件“机关-平台.xlsx”" in (audit.reason or "")
    (audit_other,) = _audits(app, other)
    assert "1 处有误未保存" in (audit_other.reason or "")

    # The unit is told, through the outbox: a notice to each of its users, not the reviewer.
    from workflow.notices.operations import handle_notify

    (message_id,) = _notify_messages(app, seed)
    with app.app_context():
        handle_notify(message_id)
        notices = list(db.session.scalars(select(Notice).where(Notice.kind == "upload_on_behalf")))
        mine = [n for n in notices if n.evaluation_id == seed]
        told = sorted(db.session.get(User, n.user_id).username for n in mine)
        assert told == ["unit_a", "unit_a_head"]
        assert "代为上传" in mine[0].title and SEED in mine[0].title
        assert "说明：江苏省政务服务管理办公室（主管部门）陈静" in (mine[0].body or "")
        # The mail says the same, under 说明 (not 原因: nothing was refused).
        from workflow.models import ReminderClaim
        from workflow.notices.operations import build_notify_mail

        claim = db.session.scalar(
            select(ReminderClaim).where(ReminderClaim.step == f"m{message_id}").limit(1)
        )
        recipient = db.session.get(User, claim.user_id)
        mail = build_notify_mail(claim, recipient, db.session.get(Evaluation, seed))
        assert "自评表草稿已由上级代为上传Excel填写" in mail.text
        assert "说明：江苏省政务服务管理办公室（主管部门）陈静 代为上传" in mail.text
        assert "原因：" not in mail.text and '<th align="left">说明</th>' in mail.html

    # The unit sees it: in its history, and on the draft until it is saved again.
    unit = client_as(app, "unit_a")
    detail = unit.get(f"/evaluations/{seed}").get_data(as_text=True)
    assert "代为上传Excel（保存到草稿）" in detail and "机关-平台.xlsx" in detail
    form = unit.get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    assert 'data-testid="on-behalf-banner"' in form and "陈静 代为上传" in form
    notices_page = unit.get("/notices/").get_data(as_text=True)
    assert "自评表草稿已由上级代为上传Excel填写" in notices_page


def test_another_departments_unit_is_refused_file_by_file(app: Flask) -> None:
    seed, unit_c = ev_id(app, SEED), ev_id(app, UNIT_C_DRAFT)
    foreign = fill(download(client_as(app, "unit_a"), seed), {f"e-{BUDGET}-denominator": 1})
    reviewer_2 = client_as(app, "reviewer_2")
    own = fill(download(reviewer_2, unit_c), {"phone": "025-86660000"})
    before = version(app, seed), _entries(app, seed)
    resp = post_files(reviewer_2, ON_BEHALF_URL, [(foreign, "别家.xlsx"), (own, "本部门.xlsx")])
    assert resp.status_code == 200
    rows = result_rows(resp.get_data(as_text=True))
    assert "别家.xlsx" in rows[0] and "未找到该评价表，或该表不属于您所辖的单位" in rows[0]
    assert SEED not in rows[0]  # nothing of the other department's form is shown
    assert "本部门.xlsx" in rows[1] and "已保存到单位草稿" in rows[1]
    assert (version(app, seed), _entries(app, seed)) == before
    assert _audits(app, seed) == [] and _notify_messages(app, seed) == []
    with app.app_context():
        assert db.session.get(Evaluation, unit_c).phone == "025-86660000"


def test_finance_uploads_for_any_unit(app: Flask) -> None:
    seed, unit_c = ev_id(app, SEED), ev_id(app, UNIT_C_DRAFT)
    finance = client_as(app, "finance")
    sheets = zip_sheets(finance, _cycle(app, seed))
    files = [
        (fill(sheets[seed], {"filled_by": "孙丽代填"}), "a.xlsx"),
        (fill(sheets[unit_c], {"filled_by": "孙丽代填"}), "c.xlsx"),
    ]
    resp = post_files(finance, ON_BEHALF_URL, files)
    rows = result_rows(resp.get_data(as_text=True))
    assert all("已保存到单位草稿" in row for row in rows) and len(rows) == 2
    with app.app_context():
        assert db.session.get(Evaluation, seed).filled_by == "孙丽代填"
        assert db.session.get(Evaluation, unit_c).filled_by == "孙丽代填"
    (audit,) = _audits(app, unit_c)
    assert audit.role == "finance" and "江苏省财政厅（财政）孙丽" in (audit.reason or "")


def test_a_unit_cannot_upload_for_other_units(app: Flask) -> None:
    seed, unit_c = ev_id(app, SEED), ev_id(app, UNIT_C_DRAFT)
    other_unit = fill(download(client_as(app, "reviewer_2"), unit_c), {"phone": "1"})
    same_department = fill(download(client_as(app, "reviewer"), seed), {"phone": "2"})
    before = version(app, seed), version(app, unit_c)
    # The on-behalf page is not the unit's at all.
    unit_a = client_as(app, "unit_a")
    assert post_files(unit_a, ON_BEHALF_URL, [(other_unit, "c.xlsx")]).status_code == 404
    # Its own multi-upload takes only its own drafts: another unit's file is refused, even
    # one of the same department.
    resp = post_files(unit_a, "/workbooks/upload", [(other_unit, "c.xlsx")])
    assert "未找到该评价表，或您无权填报" in result_rows(resp.get_data(as_text=True))[0]
    resp = post_files(client_as(app, "unit_b"), "/workbooks/upload", [(same_department, "a.xlsx")])
    assert "未找到该评价表，或您无权填报" in result_rows(resp.get_data(as_text=True))[0]
    assert (version(app, seed), version(app, unit_c)) == before
    assert _audits(app, seed) == [] and _audits(app, unit_c) == []
    # The index offers a unit its own upload only.
    page = unit_a.get("/workbooks/").get_data(as_text=True)
    assert ON_BEHALF_URL not in page and "/workbooks/upload" in page


def test_submitted_evaluation_is_refused_with_its_state(app: Flask) -> None:
    submitted = ev_id(app, SUBMITTED_B)
    reviewer = client_as(app, "reviewer")
    data = download(reviewer, submitted)
    before = version(app, submitted), _entries(app, submitted)
    resp = post_files(reviewer, ON_BEHALF_URL, [(data, "已提交.xlsx")])
    (row,) = result_rows(resp.get_data(as_text=True))
    assert "当前状态（已自评（待审核））不能代为上传" in row
    assert "只有填报中（含退回单位）的评价表可以上传" in row
    assert (version(app, submitted), _entries(app, submitted)) == before
    assert _audits(app, submitted) == []


def test_a_form_returned_to_the_unit_takes_the_upload(app: Flask) -> None:
    from workflow.evaluations import operations

    in_review = ev_id(app, IN_REVIEW_B)
    with app.app_context():
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer"))
        operations.fire(reviewer, in_review, "return", reason="请补充佐证材料")
    client = client_as(app, "reviewer")
    data = fill(download(client, in_review), {"measures": "已补充材料。"})
    (row,) = result_rows(
        post_files(client, ON_BEHALF_URL, [(data, "退回.xlsx")]).get_data(as_text=True)
    )
    assert "已保存到单位草稿" in row
    with app.app_context():
        assert db.session.get(Evaluation, in_review).measures == "已补充材料。"


def test_outdated_file_is_refused_and_nothing_saved(app: Flask) -> None:
    from tests.workflow.pagehelpers import form_values

    seed = ev_id(app, SEED)
    reviewer = client_as(app, "reviewer")
    data = fill(download(reviewer, seed), {f"e-{BUDGET}-denominator": 1000})
    # The unit saves its form meanwhile: the department's file is now outdated.
    unit = client_as(app, "unit_a")
    page = unit.get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    assert unit.post(f"/evaluations/{seed}/edit", data=form_values(page)).status_code == 302
    before = version(app, seed), _entries(app, seed)
    (row,) = result_rows(
        post_files(reviewer, ON_BEHALF_URL, [(data, "旧.xlsx")]).get_data(as_text=True)
    )
    assert "已有改动" in row and "请重新下载" in row
    assert (version(app, seed), _entries(app, seed)) == before
    assert _audits(app, seed) == [] and _notify_messages(app, seed) == []
    # The same file twice in one batch: the first is saved, the second is outdated by it.
    fresh = fill(download(reviewer, seed), {f"e-{BUDGET}-denominator": 800})
    rows = result_rows(
        post_files(reviewer, ON_BEHALF_URL, [(fresh, "1.xlsx"), (fresh, "2.xlsx")]).get_data(
            as_text=True
        )
    )
    assert "已保存到单位草稿" in rows[0] and "已有改动" in rows[1]
    assert len(_audits(app, seed)) == 1


def test_edited_seal_and_foreign_files_are_refused(app: Flask) -> None:
    import io
    import json

    import openpyxl

    seed = ev_id(app, SEED)
    reviewer = client_as(app, "reviewer")
    wb = openpyxl.load_workbook(io.BytesIO(download(reviewer, seed)))
    payload = json.loads(wb["_jixiao"]["B1"].value)
    payload["evaluation_id"] = ev_id(app, UNIT_C_DRAFT)  # aimed at another department's form
    wb["_jixiao"]["B1"] = json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    out = io.BytesIO()
    wb.save(out)
    rows = result_rows(
        post_files(
            reviewer, ON_BEHALF_URL, [(out.getvalue(), "改过.xlsx"), (b"not excel", "x.xlsx")]
        ).get_data(as_text=True)
    )
    assert "校验信息不符" in rows[0]
    assert "请上传从本系统下载的 Excel 文件" in rows[1]
    assert _audits(app, seed) == []


def test_the_save_is_the_forms_own_with_its_version_check(app: Flask) -> None:
    """save_draft on the unit's behalf: its own policy action, and the version check's 409."""
    from workflow.evaluations import operations
    from workflow.evaluations.operations import Conflict, Forbidden, NotFound

    seed, unit_c = ev_id(app, SEED), ev_id(app, UNIT_C_DRAFT)
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        current = version(app, seed)
        with pytest.raises(Conflict):
            operations.save_draft(users["reviewer"], seed, {}, None, current - 1, on_behalf="x")
        db.session.rollback()
        with pytest.raises(Forbidden):  # the unit saves as itself, never "on its behalf"
            operations.save_draft(users["unit_a"], seed, {}, None, current, on_behalf="x")
        db.session.rollback()
        with pytest.raises(Forbidden):  # the department does not type into the unit's form
            operations.save_draft(users["reviewer"], seed, {}, None, current)
        db.session.rollback()
        with pytest.raises(NotFound):
            operations.save_draft(users["reviewer"], unit_c, {}, None, None, on_behalf="x")
        db.session.rollback()
        audits = db.session.scalar(select(func.count()).select_from(AuditLog))
        operations.save_draft(users["finance"], seed, {}, None, current, on_behalf="说明")
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audits + 1
    assert version(app, seed) == current + 1


def test_index_shows_the_on_behalf_upload_to_department_and_finance(app: Flask) -> None:
    for user, scope in (("reviewer", "本部门所属单位"), ("finance", "各单位")):
        page = client_as(app, user).get("/workbooks/").get_data(as_text=True)
        assert 'data-testid="on-behalf-form"' in page and scope in page
        assert 'data-testid="zip"' in page
    admin = client_as(app, "sysadmin").get("/workbooks/").get_data(as_text=True)
    assert 'data-testid="on-behalf-form"' not in admin
    empty = client_as(app, "reviewer").post(
        ON_BEHALF_URL, data={}, content_type="multipart/form-data"
    )
    assert empty.status_code == 400 and "请选择要上传的 Excel 文件" in empty.get_data(as_text=True)
