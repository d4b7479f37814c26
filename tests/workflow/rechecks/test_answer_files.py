"""The unit answers an evidence request with files: they take the evidence path (type,
first bytes, size, ClamAV, a generated name), are attached in the answer's commit with an
audit row, and only the item's re-checker, finance and the unit download them. A refused
answer keeps what was typed and leaves no file behind."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import login, make_sqlite_app
from tests.security.test_holes import EICAR, PDF, clamd  # noqa: F401 - the fixture
from tests.workflow.helpers import user
from workflow.core.extensions import db
from workflow.models import AnswerFile, AuditLog, EvidenceRequest, RecheckItem, SecurityEvent

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _waiting(app: Flask) -> RecheckItem:
    """The demo's item waiting for unit A's evidence."""
    with app.app_context():
        item = db.session.scalar(
            select(RecheckItem).where(RecheckItem.state == "awaiting_evidence")
        )
        db.session.expunge(item)
        return item


def _open_request(app: Flask, item_id: int) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(EvidenceRequest.id).where(
                    EvidenceRequest.item_id == item_id, EvidenceRequest.answered_at.is_(None)
                )
            )
        )


def _post(client: Any, item: RecheckItem, request_id: int, text: str, files: list[Any]) -> Any:
    return client.post(
        f"/rechecks/items/{item.id}/answer",
        data={
            "answer": text,
            "version": str(item.version),
            "request_id": str(request_id),
            "files": [(io.BytesIO(data), name) for name, data in files],
        },
        content_type="multipart/form-data",
    )


def _stored(app: Flask) -> list[Path]:
    folder = Path(app.config["EVIDENCE_DIR"])
    return sorted(folder.iterdir()) if folder.exists() else []


def test_the_unit_answers_with_files_and_who_may_download_them(app: Flask) -> None:
    item = _waiting(app)
    request_id = _open_request(app, item.id)
    unit = app.test_client()
    login(unit, "unit_a")
    page = unit.get(f"/evaluations/{item.evaluation_id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="files"' in page and "multiple" in page
    resp = _post(
        unit, item, request_id, "验收报告与满意度调查原始记录见附件。",
        [("验收报告.pdf", PDF), ("调查表.png", PNG)],
    )  # fmt: skip
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    with app.app_context():
        files = db.session.scalars(select(AnswerFile).order_by(AnswerFile.id)).all()
        assert [(f.original_name, f.content_type, f.size) for f in files] == [
            ("验收报告.pdf", "application/pdf", len(PDF)),
            ("调查表.png", "image/png", len(PNG)),
        ]
        assert {f.request_id for f in files} == {request_id}
        ids = [f.id for f in files]
        req = db.session.get(EvidenceRequest, request_id)
        assert req.answered_at is not None and req.answer.startswith("验收报告")
        assert db.session.get(RecheckItem, item.id).state == "checking"
        audit = db.session.scalar(select(AuditLog).where(AuditLog.event == "recheck_answer_files"))
        assert audit.evaluation_id == item.evaluation_id and audit.reason == "上传补充材料 2 个文件"
        assert [f["name"] for f in audit.scores["files"]] == ["验收报告.pdf", "调查表.png"]
        assert audit.scores["request_id"] == request_id
    assert len(_stored(app)) == 2
    # The unit sees its files on its page and downloads them.
    page = unit.get(f"/evaluations/{item.evaluation_id}").get_data(as_text=True)
    assert 'data-testid="answer-files"' in page and "验收报告.pdf" in page
    url = f"/rechecks/items/{item.id}/answers/{ids[0]}"
    resp = unit.get(url)
    assert resp.status_code == 200 and resp.data == PDF
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    # The re-checker sees them on the item page; finance and the unit's head download them.
    for username in ("expert", "finance", "unit_a_head"):
        client = app.test_client()
        login(client, username)
        if username == "expert":
            item_page = client.get(f"/rechecks/items/{item.id}").get_data(as_text=True)
            assert "调查表.png" in item_page and url in item_page
        assert client.get(url).status_code == 200, username
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(SecurityEvent)
                .where(SecurityEvent.object == f"recheck_answer_file:{ids[0]}")
            )
            == 4
        )
    # Nobody else: the department, another unit, another expert; nor through another item.
    _another_expert(app)
    for username in ("reviewer", "unit_b", "unit_c", "reviewer_2", "expert_2", "sysadmin"):
        client = app.test_client()
        login(client, username)
        assert client.get(url).status_code == 404, username
    reviewer = app.test_client()
    login(reviewer, "reviewer")
    page = reviewer.get(f"/evaluations/{item.evaluation_id}").get_data(as_text=True)
    assert "单位答复" in page and "验收报告.pdf" not in page
    with app.app_context():
        other = db.session.scalar(select(RecheckItem.id).where(RecheckItem.id != item.id))
    finance = app.test_client()
    login(finance, "finance")
    assert finance.get(f"/rechecks/items/{other}/answers/{ids[0]}").status_code == 404


def _another_expert(app: Flask) -> None:
    from workflow.auth import operations as auth_ops
    from workflow.models import User

    with app.app_context():
        u = User(username="expert_2", name="孙专家", role="expert", org=user("expert").org)
        db.session.add(u)
        u.set_password("demo-pass-2024")
        auth_ops.enrol_directly(u)
        db.session.commit()


@pytest.mark.parametrize(
    "files,message",
    [
        ([("报告.pdf", b"MZ\x90\x00 not a pdf")], "文件内容与扩展名 .pdf 不符"),
        ([("a.pdf", PDF), ("run.exe", b"MZ")], "只能上传 PDF"),
        ([("空.pdf", b"")], "文件是空的"),
    ],
)
def test_a_refused_file_keeps_the_text_and_stores_nothing(
    app: Flask, files: list[tuple[str, bytes]], message: str
) -> None:
    item = _waiting(app)
    request_id = _open_request(app, item.id)
    unit = app.test_client()
    login(unit, "unit_a")
    resp = _post(unit, item, request_id, "合同与验收报告见附件。", files)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in page
    assert "合同与验收报告见附件。</textarea>" in page and "文件需要重新选择" in page
    assert _stored(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AnswerFile)) == 0
        assert db.session.get(EvidenceRequest, request_id).answered_at is None


def test_limits_and_an_empty_text(sqlite_template: Path, tmp_path: Path) -> None:
    app = make_sqlite_app(
        sqlite_template, tmp_path, EVIDENCE_MAX_FILES=2, EVIDENCE_QUOTA_BYTES=len(PDF) * 2 + 10
    )
    item = _waiting(app)
    request_id = _open_request(app, item.id)
    unit = app.test_client()
    login(unit, "unit_a")
    three = [("a.pdf", PDF), ("b.pdf", PDF), ("c.pdf", PDF)]
    assert "补充材料最多 2 个文件" in _post(unit, item, request_id, "见附件", three).get_data(
        as_text=True
    )
    big = [("a.pdf", PDF), ("b.pdf", PDF + b"x" * 20)]
    assert "合计不能超过" in _post(unit, item, request_id, "见附件", big).get_data(as_text=True)
    empty = _post(unit, item, request_id, "  ", [("a.pdf", PDF)])
    assert "必须填写内容" in empty.get_data(as_text=True)
    assert _stored(app) == []
    # The answer page itself: the unit only.
    assert unit.get(f"/rechecks/items/{item.id}/answer").status_code == 200
    for username in ("reviewer", "expert", "finance", "unit_b"):
        client = app.test_client()
        login(client, username)
        assert client.get(f"/rechecks/items/{item.id}/answer").status_code == 404, username


def test_a_race_stores_nothing(app: Flask) -> None:
    item = _waiting(app)
    request_id = _open_request(app, item.id)
    unit = app.test_client()
    login(unit, "unit_a")
    item.version -= 1  # the page was opened before someone else's move
    resp = _post(unit, item, request_id, "见附件", [("a.pdf", PDF)])
    assert resp.status_code == 409
    assert _stored(app) == []


def test_clamd_refuses_a_virus_in_an_answer(
    sqlite_template: Path,
    tmp_path: Path,
    clamd: str,  # noqa: F811
) -> None:
    app = make_sqlite_app(sqlite_template, tmp_path, CLAMD_ADDRESS=clamd)
    item = _waiting(app)
    request_id = _open_request(app, item.id)
    unit = app.test_client()
    login(unit, "unit_a")
    resp = _post(unit, item, request_id, "见附件", [("好.pdf", PDF), ("报告.pdf", EICAR)])
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "“报告.pdf”：文件含有病毒" in page
    assert _stored(app) == []  # the clean file stored before it is removed too
    assert _post(unit, item, request_id, "见附件", [("好.pdf", PDF)]).status_code == 302
