"""The ZIP of all latest PDFs of a cycle or a department, scoped by role."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from tests.workflow.pagehelpers import client_as
from workflow.core.extensions import db
from workflow.models import Evaluation, Org, PdfFile


def _store_pdfs(app: Flask) -> dict[str, list[int]]:
    """A small fake PDF per evaluation (two versions for one), as the worker would store."""
    by_department: dict[str, list[int]] = {}
    with app.app_context():
        root = Path(app.config["PDF_DIR"])
        for ev in db.session.scalars(select(Evaluation).order_by(Evaluation.id)):
            for version in (1, 2) if ev.id == 1 else (1,):
                rel = f"{ev.id}/v{version}.pdf"
                (root / str(ev.id)).mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(b"%PDF-1.7 v" + str(version).encode())
                db.session.add(
                    PdfFile(evaluation_id=ev.id, version=version, state=ev.state, path=rel, size=12)
                )
            dept = db.session.get(Org, ev.department_id).name
            by_department.setdefault(dept, []).append(ev.id)
        db.session.commit()
    return by_department


def _members(resp) -> list[str]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "application/zip"
    return sorted(zipfile.ZipFile(io.BytesIO(resp.data)).namelist())


def test_reviewer_gets_own_department_only(app: Flask) -> None:
    by_dept = _store_pdfs(app)
    client = client_as(app, "reviewer")
    names = _members(client.get("/evaluations/pdfs.zip"))
    assert len(names) == len(by_dept["江苏省政务服务管理办公室"])
    assert any(n.endswith("-1-v2.pdf") for n in names)  # only the newest version
    assert not any(n.endswith("-1-v1.pdf") for n in names)
    with app.app_context():
        other = db.session.scalar(select(Org.id).where(Org.name == "江苏省数据局"))
    assert client.get(f"/evaluations/pdfs.zip?department={other}").status_code == 404


def test_finance_gets_a_whole_cycle_and_units_get_nothing(app: Flask) -> None:
    _store_pdfs(app)
    finance = client_as(app, "finance")
    assert len(_members(finance.get("/evaluations/pdfs.zip?cycle=1"))) == 8
    assert finance.get("/evaluations/pdfs.zip").status_code == 302  # must choose a scope
    assert client_as(app, "unit_a").get("/evaluations/pdfs.zip?cycle=1").status_code == 404


def test_no_pdfs_yet_is_a_message_not_an_empty_zip(app: Flask) -> None:
    finance = client_as(app, "finance")
    resp = finance.get("/evaluations/pdfs.zip?cycle=1", follow_redirects=True)
    assert "还没有生成好的 PDF" in resp.get_data(as_text=True)
