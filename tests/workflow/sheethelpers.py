"""Helpers for the 自评表 workbook tests: download a sheet, fill it as a user does in Excel
(openpyxl opens the file, types into the yellow cells, saves), post files."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import openpyxl
from flask import Flask
from flask.testing import FlaskClient

BUDGET = "budget_execution_rate"
ON_BEHALF_URL = "/workbooks/upload-for-units"


def download(client: FlaskClient, evaluation_id: int) -> bytes:
    resp = client.get(f"/evaluations/{evaluation_id}/workbook.xlsx")
    assert resp.status_code == 200, resp.status_code
    return resp.data


def cells_of(data: bytes) -> dict[str, str]:
    """Which cell holds which field: read from the hidden sheet, as the server will."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return dict(json.loads(wb["_jixiao"]["B1"].value)["cells"])


def fill(data: bytes, values: dict[str, Any]) -> bytes:
    """What a user does in Excel: open the file, type into the yellow cells, save."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cells = json.loads(wb["_jixiao"]["B1"].value)["cells"]
    ws = wb["自评表"]
    for name, value in values.items():
        ws[cells[name]] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def run_zip_jobs(app: Flask) -> list[int]:
    """Run the bulk worker's task for every open sheets_zip outbox row, in this process."""
    from sqlalchemy import select

    from workflow.core.extensions import db
    from workflow.models import OutboxMessage
    from workflow.workbooks.tasks import build_sheets_zip

    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "sheets_zip", OutboxMessage.done_at.is_(None)
            )
        ).all()
        pending = [(int(m.payload["zip_id"]), m.id) for m in rows]
        db.session.rollback()
        for zip_id, outbox_id in pending:
            build_sheets_zip.run(zip_id, outbox_id=outbox_id)
    return [zip_id for zip_id, _ in pending]


def zip_response(client: FlaskClient, cycle_id: int) -> Any:
    """Ask for the ZIP of a cycle's sheets, let the worker's task build it, download it."""
    asked = client.post("/workbooks/sheets-zip", data={"cycle": str(cycle_id)})
    assert asked.status_code == 302, asked.status_code
    run_zip_jobs(client.application)
    page = client.get("/workbooks/").get_data(as_text=True)
    link = re.search(r"/workbooks/sheets-zip/\d+/download", page)
    assert link, "no download link on the page"
    return client.get(link.group(0))


def zip_sheets(client: FlaskClient, cycle_id: int) -> dict[int, bytes]:
    """The ZIP of a cycle's sheets, by evaluation id (members are unit/project-id-vN.xlsx)."""
    resp = zip_response(client, cycle_id)
    assert resp.status_code == 200 and resp.mimetype == "application/zip", resp.status_code
    archive = zipfile.ZipFile(io.BytesIO(resp.data))
    return {int(name.rsplit("-", 2)[-2]): archive.read(name) for name in archive.namelist()}


def post_files(client: FlaskClient, url: str, files: list[tuple[bytes, str]]) -> Any:
    return client.post(
        url,
        data={"files": [(io.BytesIO(data), name) for data, name in files]},
        content_type="multipart/form-data",
    )


def result_rows(body: str) -> list[str]:
    """Each file's row of the result table, in upload order."""
    table = body.split('data-testid="upload-results"', 1)[1].split("</table>", 1)[0]
    return table.split('data-testid="upload-result"')[1:]
