"""The public bundle (公开包) built by the PDF worker: the request only queues it (nothing is
rendered in the request), the worker's task builds it in pieces that continue one another,
the page shows each state and offers the download when ready, a failed build says so in
Chinese and can be asked again, a second request while one is building starts nothing;
audit rows for the request and the download; finance only."""

from __future__ import annotations

import io
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests.conftest import login
from tests.workflow.rechecks.bundle_helpers import (
    cycle_id,
    more_confirmed,
    pending,
    request,
    run_task,
)
from workflow.core.extensions import db
from workflow.models import AuditLog, Evaluation, OutboxMessage, PublicBundle, SecurityEvent


def _bundle(app: Flask, bundle_id: int) -> PublicBundle:
    with app.app_context():
        found = db.session.get(PublicBundle, bundle_id)
        db.session.expunge(found)
        return found


def _confirmed(app: Flask) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(func.count()).select_from(Evaluation).where(Evaluation.state == "confirmed")
            )
        )


def test_the_request_renders_nothing_and_a_second_one_starts_nothing(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.documents import render

    def no_render(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a PDF was rendered inside the request")

    monkeypatch.setattr(render, "html_to_pdf", no_render)
    monkeypatch.setattr(render, "render_pdf", no_render)
    client = app.test_client()
    login(client, "finance")
    cycle = cycle_id(app)
    page = client.get(f"/rechecks/results?cycle={cycle}").get_data(as_text=True)
    assert "尚未生成公开包" in page and 'data-testid="public-bundle"' in page
    resp = request(client, cycle)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#public-bundle")
    [(bundle_id, outbox_id)] = pending(app)
    found = _bundle(app, bundle_id)
    assert (found.state, found.cycle_id, found.done, found.path) == ("queued", cycle, 0, None)
    page = client.get(f"/rechecks/results?cycle={cycle}").get_data(as_text=True)
    assert "排队中" in page and "hx-get" in page and "已开始生成公开包" in page
    assert 'data-testid="public-bundle"' not in page  # no second button while it waits
    # Asked again while it waits: the same build, no second outbox row.
    resp = request(client, cycle)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "没有重复生成" in page
    assert pending(app) == [(bundle_id, outbox_id)]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PublicBundle)) == 1
        audit = db.session.scalars(
            select(AuditLog).where(AuditLog.event == "public_bundle_request")
        ).all()
        assert len(audit) == 1 and audit[0].scores == {"bundle_id": bundle_id, "cycle_id": cycle}
        assert audit[0].actor_name and "公开包" in audit[0].reason
    # The status fragment the page polls.
    fragment = client.get(f"/rechecks/public-bundle/status?cycle={cycle}").get_data(as_text=True)
    assert fragment.startswith("{#") is False and 'id="public-bundle"' in fragment
    assert "every 2s" in fragment


def test_the_worker_builds_it_in_pieces_and_the_page_offers_the_download(
    app: Flask, tmp_path: Path
) -> None:
    from workflow.rechecks import publish

    more_confirmed(app)
    client = app.test_client()
    login(client, "finance")
    cycle = cycle_id(app)
    request(client, cycle)
    [(bundle_id, outbox_id)] = pending(app)
    forms = _confirmed(app)
    assert forms >= 2
    with app.app_context():
        # One form per piece: the task would continue itself through the broker.
        first = publish.run_bundle(bundle_id, budget_seconds=0, outbox_id=outbox_id)
        assert (first.claimed, first.finished, first.rendered) == (True, False, 1)
        # A hand-out while another worker holds the build does nothing.
        db.session.execute(
            update(PublicBundle)
            .where(PublicBundle.id == bundle_id)
            .values(claimed_at=func.current_timestamp())
        )
        db.session.commit()
        held = publish.run_bundle(bundle_id, budget_seconds=0)
        assert (held.claimed, held.rendered) == (False, 0)
        # ... unless the claim is stale (the worker died).
        found = db.session.get(PublicBundle, bundle_id)
        found.claimed_at = found.claimed_at - publish.CLAIM_STALE - timedelta(seconds=1)
        db.session.commit()
    found = _bundle(app, bundle_id)
    assert (found.state, found.done, found.total) == ("building", 1, forms)
    page = client.get(f"/rechecks/results?cycle={cycle}").get_data(as_text=True)
    assert f"已处理 1 / {forms} 份自评表" in page and "<progress" in page
    assert 'data-testid="public-bundle-download"' not in page
    # The task runs the rest to the end and marks its outbox row done.
    assert run_task(app, bundle_id, outbox_id) == forms - 1
    found = _bundle(app, bundle_id)
    assert (found.state, found.done, found.forms, found.error) == ("ready", forms, forms, None)
    assert found.path and found.size and found.size > 0
    pdf_dir = Path(app.config["PDF_DIR"])
    assert (pdf_dir / found.path).is_file()
    assert not (pdf_dir / "public" / f"bundle-{bundle_id}.parts").exists()
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox_id).done_at is not None
    page = client.get(f"/rechecks/results?cycle={cycle}").get_data(as_text=True)
    assert "已生成" in page and f"{forms} 份自评表" in page and "hx-get" not in page
    assert "重新生成公开包" in page
    resp = client.get(f"/rechecks/public-bundle/{bundle_id}/download")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        names = zf.namelist()
    assert sum(n.endswith(".pdf") for n in names) == forms
    assert {"绩效自评结果汇总.xlsx", "说明.txt"} <= set(names)
    assert names[0].startswith("自评表/001-")
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(SecurityEvent)
                .where(
                    SecurityEvent.kind == "download",
                    SecurityEvent.object == f"public_bundle:{bundle_id}",
                )
            )
            == 1
        )
        # A second hand-out of the finished row does nothing.
        assert run_task(app, bundle_id, outbox_id) == 0
    # A new bundle replaces the file of the previous one.
    request(client, cycle)
    [(second, second_outbox)] = pending(app)
    run_task(app, second, second_outbox)
    assert not (pdf_dir / found.path).exists()
    assert client.get(f"/rechecks/public-bundle/{bundle_id}/download").status_code == 404
    assert client.get(f"/rechecks/public-bundle/{second}/download").status_code == 200


def test_a_failed_build_says_so_and_can_be_asked_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.rechecks import bundle

    def broken(*_args: object, **_kwargs: object) -> bytes:
        raise OSError("disk full")

    client = app.test_client()
    login(client, "finance")
    cycle = cycle_id(app)
    request(client, cycle)
    [(bundle_id, outbox_id)] = pending(app)
    monkeypatch.setattr(bundle, "public_pdf", broken)
    run_task(app, bundle_id, outbox_id)
    found = _bundle(app, bundle_id)
    assert found.state == "failed" and found.error == "生成公开包时出错（OSError）"
    with app.app_context():
        assert db.session.get(OutboxMessage, outbox_id).done_at is not None
    page = client.get(f"/rechecks/results?cycle={cycle}").get_data(as_text=True)
    assert "公开包生成失败：生成公开包时出错（OSError）" in page and "重新生成公开包" in page
    assert client.get(f"/rechecks/public-bundle/{bundle_id}/download").status_code == 404
    monkeypatch.undo()
    request(client, cycle)
    [(again, again_outbox)] = pending(app)
    assert again != bundle_id
    run_task(app, again, again_outbox)
    assert _bundle(app, again).state == "ready"


def test_a_form_reopened_during_the_build_is_left_out(app: Flask) -> None:
    from workflow.rechecks import publish

    more_confirmed(app)
    client = app.test_client()
    login(client, "finance")
    request(client, cycle_id(app))
    [(bundle_id, outbox_id)] = pending(app)
    forms = _confirmed(app)
    with app.app_context():
        publish.run_bundle(bundle_id, budget_seconds=0, outbox_id=outbox_id)
        last = db.session.get(PublicBundle, bundle_id).evaluation_ids[-1]
        db.session.execute(
            update(Evaluation).where(Evaluation.id == last).values(state="finance_confirmation")
        )
        db.session.commit()
    run_task(app, bundle_id, outbox_id)
    assert _bundle(app, bundle_id).forms == forms - 1


def test_only_finance_asks_for_polls_and_downloads(app: Flask) -> None:
    client = app.test_client()
    login(client, "finance")
    request(client, cycle_id(app))
    [(bundle_id, outbox_id)] = pending(app)
    run_task(app, bundle_id, outbox_id)
    for username in ("reviewer", "unit_a", "expert", "sysadmin", "auditor"):
        other = app.test_client()
        login(other, username)
        assert other.post("/rechecks/public-bundle").status_code == 404, username
        assert other.get("/rechecks/public-bundle/status").status_code == 404, username
        assert other.get(f"/rechecks/public-bundle/{bundle_id}/download").status_code == 404
    assert pending(app) == []


def test_the_command_builds_with_the_same_pieces(
    app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = app.test_cli_runner()
    out = tmp_path / "bundle.zip"
    result = runner.invoke(
        args=["rechecks", "public-bundle", "--cycle", str(cycle_id(app)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        pdfs = [n for n in zf.namelist() if n.endswith(".pdf")]
        assert len(pdfs) == _confirmed(app)
        first = tmp_path / "first.pdf"
        first.write_bytes(zf.read(pdfs[0]))
    # The form's stylesheet reached WeasyPrint: the public PDFs used to be rendered without
    # it (a relative link the static-only fetcher refused), unlike every other PDF.
    assert "Failed to load stylesheet" not in caplog.text
    text = subprocess.run(
        ["pdftotext", str(first), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "填报人" not in text and "公共数据平台运维" in text
    # --queued builds what the page asked for when no worker runs.
    client = app.test_client()
    login(client, "finance")
    request(client, cycle_id(app))
    result = runner.invoke(args=["rechecks", "public-bundle", "--queued"])
    assert result.exit_code == 0 and "已生成 1 个公开包" in result.output, result.output
    assert pending(app) == []


def test_a_cycle_without_confirmed_forms_has_no_bundle(app: Flask) -> None:
    with app.app_context():
        db.session.execute(
            update(Evaluation)
            .where(Evaluation.state == "confirmed")
            .values(state="finance_confirmation")
        )
        db.session.commit()
    client = app.test_client()
    login(client, "finance")
    resp = request(client, cycle_id(app))
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "还没有已确认的自评表，不能生成公开包" in page
    assert pending(app) == []
