"""The public bundle through the outbox and a real Celery worker on the ``pdf`` queue, against
PostgreSQL and Redis: the request queues it and returns, the worker renders the forms in
pieces that continue themselves through the broker, writes the ZIP and marks the bundle
ready and its outbox row done; no personal field reaches the file."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from task_live_helpers import Live, wait_for
from task_world import build_world, fill_seed_scores

from workflow.core.extensions import db
from workflow.core.outbox import dispatch
from workflow.models import Evaluation, OutboxMessage, Project, PublicBundle

pytestmark = pytest.mark.integration


def _more_confirmed(world: object, count: int) -> None:
    base = world.evaluation  # type: ignore[attr-defined]
    for n in range(count):
        project = Project(unit_id=base.unit_id, name=f"公开项目{n + 1}", summary="")
        db.session.add(project)
        db.session.flush()
        evaluation = Evaluation(
            project_id=project.id,
            cycle_id=base.cycle_id,
            unit_id=base.unit_id,
            department_id=base.department_id,
            state="confirmed",
            version=2,
            scheme=base.scheme,
            entries={},
            main_results=f"项目负责人张晓（13812345678）组织实施{n}",
            problems="",
            measures="",
            filled_by="张晓",
            phone="025-12345678",
            unit_head="王建国",
            submitted_by_id=base.submitted_by_id,
        )
        db.session.add(evaluation)
        db.session.flush()
        fill_seed_scores(evaluation, base.scheme)
    db.session.commit()


def test_a_real_pdf_worker_builds_the_bundle_in_pieces(task_live: Live, tmp_path: Path) -> None:
    from workflow.rechecks import publish

    app = task_live.app
    with app.app_context():
        world = build_world(state="confirmed")
        _more_confirmed(world, 2)
        finance_id, cycle_id = world.finance_user.id, world.cycle.id
    # One form a piece: the task continues itself through Redis.
    task_live.env["BUNDLE_TASK_BUDGET_SECONDS"] = "0.01"
    worker = task_live.start_worker(concurrency=1)
    with app.test_request_context():
        from workflow.models import User

        found, outbox_ids = publish.request_bundle(db.session.get(User, finance_id), cycle_id)
        bundle_id = found.id
        dispatch(outbox_ids)

    def ready() -> bool:
        with app.app_context():
            state = db.session.scalar(
                select(PublicBundle.state).where(PublicBundle.id == bundle_id)
            )
            db.session.rollback()
            assert state != "failed"
            return state == "ready"

    wait_for(ready, timeout=120, interval=0.5)
    with app.app_context():
        found = db.session.get(PublicBundle, bundle_id)
        assert (found.total, found.done, found.forms) == (3, 3, 3)
        path = Path(app.config["PDF_DIR"]) / found.path
        message = db.session.get(OutboxMessage, outbox_ids[0])
        wait_for(lambda: db.session.refresh(message) or message.done_at is not None, 20)
    with zipfile.ZipFile(path) as zf:
        pdfs = [n for n in zf.namelist() if n.endswith(".pdf")]
        assert len(pdfs) == 3
        text = ""
        for name in pdfs:
            part = tmp_path / "part.pdf"
            part.write_bytes(zf.read(name))
            text += subprocess.run(
                ["pdftotext", str(part), "-"], capture_output=True, text=True, check=True
            ).stdout
    assert "组织实施" in text
    for personal in ("张晓", "王建国", "13812345678", "025-12345678"):
        assert personal not in text
    log = task_live.worker_log(worker).decode(errors="replace")
    assert log.count("workflow.tasks.pdf.build_public_bundle") >= 3
