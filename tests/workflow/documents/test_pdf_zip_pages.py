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

TWO_VERSIONS = 4  # 12345热线知识库建设, in review: its PDF of v2 is the newest


def _store_pdfs(app: Flask) -> dict[str, list[int]]:
    """A small fake PDF per evaluation (two versions for one), as the worker would store.
    Returns the ids of the evaluations whose PDF is in force (not back in draft)."""
    by_department: dict[str, list[int]] = {}
    with app.app_context():
        root = Path(app.config["PDF_DIR"])
        for ev in db.session.scalars(select(Evaluation).order_by(Evaluation.id)):
            for version in (1, 2) if ev.id == TWO_VERSIONS else (1,):
                rel = f"{ev.id}/v{version}.pdf"
                (root / str(ev.id)).mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(b"%PDF-1.7 v" + str(version).encode())
                db.session.add(
                    PdfFile(evaluation_id=ev.id, version=version, state=ev.state, path=rel, size=12)
                )
            dept = db.session.get(Org, ev.department_id).name
            if ev.state != "draft":
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
    assert any(n.endswith(f"-{TWO_VERSIONS}-v2.pdf") for n in names)  # only the newest version
    assert not any(n.endswith(f"-{TWO_VERSIONS}-v1.pdf") for n in names)
    assert not any(n.endswith("-1-v1.pdf") for n in names)  # the seed form is a draft
    with app.app_context():
        other = db.session.scalar(select(Org.id).where(Org.name == "江苏省数据局"))
    assert client.get(f"/evaluations/pdfs.zip?department={other}").status_code == 404


def test_finance_gets_a_whole_cycle_and_units_get_nothing(app: Flask) -> None:
    by_dept = _store_pdfs(app)
    finance = client_as(app, "finance")
    in_force = sum(len(ids) for ids in by_dept.values())
    assert in_force == 5  # 8 forms, 3 of them drafts
    assert len(_members(finance.get("/evaluations/pdfs.zip?cycle=1"))) == in_force
    assert finance.get("/evaluations/pdfs.zip").status_code == 302  # must choose a scope
    assert client_as(app, "unit_a").get("/evaluations/pdfs.zip?cycle=1").status_code == 404


def test_no_pdfs_yet_is_a_message_not_an_empty_zip(app: Flask) -> None:
    finance = client_as(app, "finance")
    resp = finance.get("/evaluations/pdfs.zip?cycle=1", follow_redirects=True)
    assert "还没有生成好的 PDF" in resp.get_data(as_text=True)


def test_a_form_returned_to_draft_leaves_the_zip(app: Flask) -> None:
    """Its last PDF shows scores no longer in force: the ZIP leaves it out (issue 13)."""
    _store_pdfs(app)
    reviewer = client_as(app, "reviewer")
    names = _members(reviewer.get("/evaluations/pdfs.zip"))
    assert any(n.endswith(f"-{TWO_VERSIONS}-v2.pdf") for n in names)
    resp = reviewer.post(
        f"/evaluations/{TWO_VERSIONS}/events/return", data={"reason": "请补充验收报告"}
    )
    assert resp.status_code == 302
    names = _members(reviewer.get("/evaluations/pdfs.zip"))
    assert not any(f"-{TWO_VERSIONS}-v" in n for n in names)
