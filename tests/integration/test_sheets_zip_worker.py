"""The ZIP of 自评表 sheets through the outbox and a real Celery worker on the ``bulk`` queue,
against PostgreSQL and Redis: the request queues it and returns, a worker that only listens
to ``bulk`` writes the sheets in pieces that continue themselves through the broker, writes
the ZIP of the department's sheets only and marks the job ready and its outbox row done."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from task_live_helpers import Live, bulk_worker, wait_for
from task_world import build_world

from workflow.core.extensions import db
from workflow.core.outbox import dispatch
from workflow.models import Evaluation, OutboxMessage, Project, SheetsZip, User

pytestmark = pytest.mark.integration


def _more_drafts(world: object, count: int) -> None:
    base = world.evaluation  # type: ignore[attr-defined]
    for n in range(count):
        project = Project(unit_id=base.unit_id, name=f"打包项目{n + 1}", summary="")
        db.session.add(project)
        db.session.flush()
        db.session.add(
            Evaluation(
                project_id=project.id,
                cycle_id=base.cycle_id,
                unit_id=base.unit_id,
                department_id=base.department_id,
                state="draft",
                version=1,
                scheme=base.scheme,
                entries={},
            )
        )
    db.session.commit()


def test_a_real_bulk_worker_builds_the_zip_in_pieces(task_live: Live) -> None:
    from workflow.workbooks import zipjob

    app = task_live.app
    with app.app_context():
        world = build_world(state="draft")
        _more_drafts(world, 2)
        reviewer_id, cycle_id = world.reviewer.id, world.cycle.id
    # One sheet a piece: the task continues itself through Redis.
    worker = bulk_worker(task_live, ZIP_TASK_BUDGET_SECONDS="0.01")
    with app.test_request_context():
        found, outbox_ids = zipjob.request_zip(db.session.get(User, reviewer_id), cycle_id)
        zip_id = found.id
        dispatch(outbox_ids)

    def ready() -> bool:
        with app.app_context():
            state = db.session.scalar(select(SheetsZip.state).where(SheetsZip.id == zip_id))
            db.session.rollback()
            assert state != "failed"
            return state == "ready"

    wait_for(ready, timeout=120, interval=0.5)
    with app.app_context():
        found = db.session.get(SheetsZip, zip_id)
        assert (found.total, found.done, found.forms) == (3, 3, 3)
        path = Path(app.config["VAR_DIR"]) / found.path
        message = db.session.get(OutboxMessage, outbox_ids[0])
        wait_for(lambda: db.session.refresh(message) or message.done_at is not None, 20)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert len(names) == 3 and all(n.endswith(".xlsx") for n in names)
        sheet = openpyxl.load_workbook(io.BytesIO(archive.read(names[0])))
        assert sheet["_jixiao"].sheet_state == "veryHidden"
    log = (task_live.tmp / "worker-bulk.log").read_bytes().decode(errors="replace")
    assert worker.poll() is None
    assert log.count("workflow.tasks.bulk.build_sheets_zip") >= 3
