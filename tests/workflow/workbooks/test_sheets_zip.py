"""The ZIP of 自评表 sheets built by the bulk worker: the request only queues it (no sheet is
written in the request), a second request while it runs starts nothing, the task builds it
in pieces with progress (a stale claim is taken over), the page offers the download (logged),
a failure says so in Chinese and can be asked again; the file is the requester's alone (a
department never gets another department's ZIP, nor sees its job); no cap on the sheets."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests.workflow.pagehelpers import client_as
from tests.workflow.sheethelpers import run_zip_jobs
from workflow.core.extensions import db
from workflow.models import AuditLog, Evaluation, OutboxMessage, SecurityEvent, SheetsZip, User

URL = "/workbooks/sheets-zip"


def _cycle(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(Evaluation.cycle_id).limit(1)))


def _count(app: Flask, cycle: int, department_of: str | None = None) -> int:
    with app.app_context():
        query = select(func.count()).select_from(Evaluation).where(Evaluation.cycle_id == cycle)
        if department_of:
            org = db.session.scalar(select(User.org_id).where(User.username == department_of))
            query = query.where(Evaluation.department_id == org)
        return int(db.session.scalar(query))


def _job(app: Flask, zip_id: int) -> SheetsZip:
    with app.app_context():
        found = db.session.get(SheetsZip, zip_id)
        db.session.expunge(found)
        return found


def _pending(app: Flask) -> list[tuple[int, int]]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "sheets_zip", OutboxMessage.done_at.is_(None)
            )
        ).all()
        return [(int(m.payload["zip_id"]), m.id) for m in rows]


def _link(page: str) -> str | None:
    found = re.search(r"/workbooks/sheets-zip/\d+/download", page)
    return found.group(0) if found else None


def test_the_request_writes_nothing_and_a_second_one_starts_nothing(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.workbooks import operations

    def no_sheet(*_args: object) -> bytes:
        raise AssertionError("a sheet was written inside the request")

    monkeypatch.setattr(operations, "workbook_of", no_sheet)
    cycle = _cycle(app)
    client = client_as(app, "reviewer")
    page = client.get("/workbooks/").get_data(as_text=True)
    assert "选择评价任务后生成 ZIP" in page and 'data-testid="zip"' in page
    resp = client.post(URL, data={"cycle": str(cycle)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#sheets-zip")
    [(zip_id, outbox_id)] = _pending(app)
    found = _job(app, zip_id)
    assert (found.state, found.scope, found.cycle_id, found.path) == (
        "queued",
        "department",
        cycle,
        None,
    )
    page = client.get("/workbooks/").get_data(as_text=True)
    assert "排队中" in page and "hx-get" in page and "已开始生成 ZIP" in page
    assert 'data-testid="zip"' not in page  # no second button while it waits
    # Asked again while it waits: the same job, no second outbox row.
    again = client.post(URL, data={"cycle": str(cycle)})
    assert "没有重复生成" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert _pending(app) == [(zip_id, outbox_id)]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SheetsZip)) == 1
        [audit] = db.session.scalars(
            select(AuditLog).where(AuditLog.event == "sheets_zip_request")
        ).all()
        assert audit.scores == {"zip_id": zip_id, "cycle_id": cycle, "scope": "department"}
        assert "本部门所属单位" in audit.reason
    fragment = client.get(f"{URL}/status").get_data(as_text=True)
    assert 'id="sheets-zip"' in fragment and "every 2s" in fragment
    # Not ready: no file to download.
    assert client.get(f"{URL}/{zip_id}/download").status_code == 404


def test_the_worker_builds_it_in_pieces_and_the_page_offers_the_download(app: Flask) -> None:
    from workflow.core import jobs
    from workflow.workbooks import zipjob

    cycle = _cycle(app)
    total = _count(app, cycle)
    assert total >= 3
    client = client_as(app, "finance")
    client.post(URL, data={"cycle": str(cycle)})
    [(zip_id, outbox_id)] = _pending(app)
    with app.app_context():
        # One sheet per piece (a budget of 0): the task would continue itself.
        first = zipjob.run_zip(zip_id, budget_seconds=0, outbox_id=outbox_id)
        assert (first.claimed, first.finished, first.rendered) == (True, False, 1)
        second = zipjob.run_zip(zip_id, budget_seconds=0, outbox_id=outbox_id)
        assert (second.finished, second.rendered) == (False, 1)
        # A hand-out while another worker holds the job does nothing ...
        db.session.execute(
            update(SheetsZip)
            .where(SheetsZip.id == zip_id)
            .values(claimed_at=func.current_timestamp())
        )
        db.session.commit()
        assert not zipjob.run_zip(zip_id, budget_seconds=0).claimed
        # ... unless its claim is stale (the worker died).
        found = db.session.get(SheetsZip, zip_id)
        found.claimed_at = found.claimed_at - jobs.CLAIM_STALE - timedelta(seconds=1)
        db.session.commit()
    found = _job(app, zip_id)
    assert (found.state, found.done, found.total, found.scope) == ("building", 2, total, "all")
    page = client.get("/workbooks/").get_data(as_text=True)
    assert f"已处理 2 / {total} 份自评表" in page and "<progress" in page
    assert _link(page) is None
    # The task runs the rest to the end and marks its outbox row done.
    assert run_zip_jobs(app) == [zip_id]
    found = _job(app, zip_id)
    assert (found.state, found.done, found.forms, found.error) == ("ready", total, total, None)
    var = Path(app.config["VAR_DIR"])
    assert (var / found.path).is_file() and not (var / "zips" / f"sheets-{zip_id}.parts").exists()
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox_id).done_at is not None
    page = client.get("/workbooks/").get_data(as_text=True)
    assert "已生成" in page and "hx-get" not in page and "重新生成 ZIP" in page
    resp = client.get(_link(page) or "")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(resp.data)) as archive:
        names = archive.namelist()
        sheet = openpyxl.load_workbook(io.BytesIO(archive.read(names[0])))
    assert len(names) == total and all(n.endswith(".xlsx") for n in names)
    assert sheet["_jixiao"].sheet_state == "veryHidden"
    with app.app_context():
        logged = db.session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(SecurityEvent.kind == "download", SecurityEvent.object == f"sheets_zip:{zip_id}")
        )
        assert logged == 1
    # A new ZIP of the user replaces the file of the previous one.
    client.post(URL, data={"cycle": str(cycle)})
    [newer] = run_zip_jobs(app)
    assert not (var / found.path).exists()
    assert client.get(f"{URL}/{zip_id}/download").status_code == 404
    assert client.get(f"{URL}/{newer}/download").status_code == 200


def test_a_department_never_gets_another_departments_zip(any_app: Flask) -> None:
    app = any_app
    cycle = _cycle(app)
    reviewer = client_as(app, "reviewer")
    reviewer.post(URL, data={"cycle": str(cycle)})
    [zip_id] = run_zip_jobs(app)
    assert _job(app, zip_id).forms == _count(app, cycle, "reviewer") < _count(app, cycle)
    assert reviewer.get(f"{URL}/{zip_id}/download").status_code == 200
    for username in ("reviewer_2", "finance", "sysadmin"):
        other = client_as(app, username)
        assert other.get(f"{URL}/{zip_id}/download").status_code == 404, username
        page = other.get("/workbooks/").get_data(as_text=True)
        status = other.get(f"{URL}/status").get_data(as_text=True)
        for text in (page, status):
            assert f"/{zip_id}/download" not in text and "已生成" not in text, username
    for username in ("unit_a", "expert", "auditor"):
        other = client_as(app, username)
        assert other.get(f"{URL}/{zip_id}/download").status_code == 404, username
        assert other.post(URL, data={"cycle": str(cycle)}).status_code == 404, username
    # The other department's own ZIP holds its sheets only, and runs beside the first.
    second = client_as(app, "reviewer_2")
    second.post(URL, data={"cycle": str(cycle)})
    [other_id] = run_zip_jobs(app)
    assert _job(app, other_id).forms == _count(app, cycle, "reviewer_2")
    assert reviewer.get(f"{URL}/{other_id}/download").status_code == 404
    # A reviewer moved to another department no longer gets the old one's file.
    with app.app_context():
        moved = db.session.scalar(select(User).where(User.username == "reviewer"))
        moved.org_id = db.session.scalar(select(User.org_id).where(User.username == "reviewer_2"))
        db.session.commit()
    assert client_as(app, "reviewer").get(f"{URL}/{zip_id}/download").status_code == 404


def test_a_failed_build_says_so_and_can_be_asked_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.workbooks import operations

    def broken(*_args: object) -> bytes:
        raise OSError("disk full")

    client = client_as(app, "reviewer")
    client.post(URL, data={"cycle": str(_cycle(app))})
    [(zip_id, outbox_id)] = _pending(app)
    monkeypatch.setattr(operations, "workbook_of", broken)
    run_zip_jobs(app)
    found = _job(app, zip_id)
    assert found.state == "failed" and found.error == "生成自评表 ZIP 时出错（OSError）"
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox_id).done_at is not None
    page = client.get("/workbooks/").get_data(as_text=True)
    assert "ZIP生成失败：生成自评表 ZIP 时出错（OSError）" in page and "重新生成 ZIP" in page
    assert client.get(f"{URL}/{zip_id}/download").status_code == 404
    monkeypatch.undo()
    client.post(URL, data={"cycle": str(_cycle(app))})
    [again] = run_zip_jobs(app)
    assert again != zip_id and _job(app, again).state == "ready"


def test_no_cycle_or_nothing_to_see_is_said_in_the_page(app: Flask) -> None:
    client = client_as(app, "reviewer")
    resp = client.post(URL, data={}, follow_redirects=True)
    assert "请选择评价任务" in resp.get_data(as_text=True)
    with app.app_context():
        # A department with no project in the cycle (its org has none under it).
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer"))
        reviewer.org_id = db.session.scalar(select(User.org_id).where(User.username == "unit_c"))
        db.session.commit()
    empty_id = _cycle(app)
    client = client_as(app, "reviewer")
    resp = client.post(URL, data={"cycle": str(empty_id)}, follow_redirects=True)
    assert "所选评价任务中没有您可查看的评价表" in resp.get_data(as_text=True)
    assert _pending(app) == []
