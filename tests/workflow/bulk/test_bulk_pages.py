"""The bulk import page: finance and the system administrator upload many files and ZIPs,
the request only queues the work (an outbox row for the bulk worker), the page polls a
status fragment with a progress bar, then shows each form's result and the reports."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import login
from tests.scoring.importers.importer_files import FORMS
from tests.workflow.bulk.bulk_helpers import KNOWN_UNITS, central_cycle, generated_form, zip_of
from workflow.core.extensions import db
from workflow.models import BulkImport, Evaluation, OutboxMessage


def _upload(client: Any, cycle_id: int | str, files: list[tuple[bytes, str]]) -> Any:
    return client.post(
        "/bulk-import/",
        data={"cycle_id": str(cycle_id), "files": [(io.BytesIO(b), n) for b, n in files]},
        content_type="multipart/form-data",
    )


def _run_worker(app: Flask) -> None:
    """What the bulk worker does with each open outbox row (tests run no broker here)."""
    from workflow.bulk.tasks import run_bulk_import

    with app.app_context():
        messages = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "bulk_import", OutboxMessage.done_at.is_(None)
            )
        ).all()
        jobs = [(m.payload["bulk_import_id"], m.id) for m in messages]
        db.session.rollback()
        for bulk_id, message_id in jobs:
            run_bulk_import.run(bulk_id, outbox_id=message_id)


@pytest.mark.parametrize("username", ["finance", "sysadmin"])
def test_upload_progress_results_and_reports(app: Flask, tmp_path: Path, username: str) -> None:
    with app.app_context():
        cycle_id = central_cycle()
    client = app.test_client()
    login(client, username)
    page = client.get("/bulk-import/")
    assert page.status_code == 200 and "批量导入自评表" in page.get_data(as_text=True)
    archive = zip_of(
        tmp_path,
        {"第二批/数据.txt": generated_form(KNOWN_UNITS[1], "数据归集", 100).encode("gb18030")},
    )
    putuo = (FORMS / "putuo_tiyu_2022_two_forms.txt").read_bytes()
    resp = _upload(
        client,
        cycle_id,
        [
            (generated_form(KNOWN_UNITS[0], "窗口培训").encode(), "培训.txt"),
            (putuo, "普陀.txt"),
            (archive.read_bytes(), "批量.zip"),
        ],
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    detail_url = resp.headers["Location"]
    with app.app_context():
        bulk = db.session.scalar(select(BulkImport).order_by(BulkImport.id.desc()))
        # The request stored the files and queued the work; nothing was read yet.
        assert (bulk.status, bulk.total, bulk.processed, bulk.source) == ("queued", 3, 0, "web")
        assert bulk.created_by.username == username
        message = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "bulk_import")
        )
        assert message.payload == {"bulk_import_id": bulk.id}
        bulk_id = bulk.id
        assert (
            db.session.scalar(
                select(func.count()).select_from(Evaluation).where(Evaluation.cycle_id == cycle_id)
            )
            == 0
        )
    waiting = client.get(detail_url).get_data(as_text=True)
    assert 'data-testid="bulk-progress"' in waiting and "已处理 0 / 3 个文件" in waiting
    status = client.get(f"/bulk-import/{bulk_id}/status").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in status and "<progress" in status
    _run_worker(app)
    done = client.get(f"/bulk-import/{bulk_id}/status").get_data(as_text=True)
    assert "hx-trigger" not in done and 'data-testid="bulk-results"' in done
    assert "批量.zip/第二批/数据.txt" in done and "窗口培训" in done
    assert "不评定（表格不完整）" in done and "98.62" in done
    xlsx = client.get(f"/bulk-import/{bulk_id}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.max_row == 1 + 4  # one row per form: 1 + 2 (普陀) + 1
    data = json.loads(client.get(f"/bulk-import/{bulk_id}/report.json").data)
    assert [r["file"] for r in data["forms"]] == [
        "培训.txt", "普陀.txt", "普陀.txt", "批量.zip/第二批/数据.txt",
    ]  # fmt: skip
    # 普陀's first form is stored too (its unit exists); its cut-off second form is not.
    assert data["import"]["stored"] == 3 and data["import"]["by"]
    with app.app_context():
        stored = db.session.scalars(select(Evaluation).where(Evaluation.cycle_id == cycle_id)).all()
        assert {e.unit.name for e in stored} == {*KNOWN_UNITS, "上海市普陀区体育事业管理中心"}
    listing = client.get("/bulk-import/").get_data(as_text=True)
    assert f"#{bulk_id}" in listing and "已完成" in listing


def test_bad_uploads_keep_the_choice_and_say_why(app: Flask) -> None:
    with app.app_context():
        cycle_id = central_cycle()
    client = app.test_client()
    login(client, "finance")
    empty = client.post("/bulk-import/", data={"cycle_id": str(cycle_id)})
    text = empty.get_data(as_text=True)
    assert empty.status_code == 422 and "请选择至少一个文件" in text
    assert f'<option value="{cycle_id}" selected>' in text
    broken = _upload(client, cycle_id, [(b"PK\x03\x04 broken", "坏.zip")])
    assert broken.status_code == 422 and "不是有效的 ZIP" in broken.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BulkImport)) == 0


@pytest.mark.parametrize("username", ["unit_a", "reviewer", "secadmin", "auditor"])
def test_other_roles_get_404_and_change_nothing(app: Flask, username: str) -> None:
    client = app.test_client()
    login(client, username)
    assert client.get("/bulk-import/").status_code == 404
    resp = _upload(client, "", [(generated_form(KNOWN_UNITS[0], "越权").encode(), "x.txt")])
    assert resp.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BulkImport)) == 0


def test_the_nav_shows_the_page_to_finance_only(app: Flask) -> None:
    finance, unit = app.test_client(), app.test_client()
    login(finance, "finance")
    login(unit, "unit_a")
    assert "/bulk-import/" in finance.get("/").get_data(as_text=True)
    assert "/bulk-import/" not in unit.get("/").get_data(as_text=True)
