"""The bulk import through the outbox and a real Celery worker on its own ``bulk`` queue,
against PostgreSQL and Redis: the work is handed out after the commit, a worker that only
listens to ``bulk`` does it, in time-boxed pieces that continue one another, and marks the
outbox row done."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from task_live_helpers import Live, bulk_worker, wait_for
from task_world import build_world

from tests.workflow.bulk.bulk_helpers import central_cycle, generated_form
from workflow.bulk import operations
from workflow.bulk.sources import SourceFile
from workflow.core.extensions import db
from workflow.core.outbox import dispatch
from workflow.models import BulkImport, Evaluation, OutboxMessage, SecurityEvent

pytestmark = pytest.mark.integration

UNIT = "江苏省大数据管理中心"


def test_a_real_bulk_worker_imports_the_queued_forms(task_live: Live) -> None:
    app = task_live.app
    with app.app_context():
        world = build_world(state="draft")
        finance_id = world.finance_user.id
        cycle_id = central_cycle()
    bulk_worker(task_live, BULK_TASK_BUDGET_SECONDS="0.05")
    files = [
        SourceFile(f"表{n}.txt", generated_form(UNIT, f"批量项目{n}", 80 + n).encode("utf-8"))
        for n in range(6)
    ]
    with app.test_request_context():
        from workflow.models import Cycle, User

        user = db.session.get(User, finance_id)
        cycle = db.session.get(Cycle, cycle_id)
        bulk, outbox_ids = operations.create_bulk_import(
            files, user=user, cycle=cycle, source="web", enqueue=True
        )
        bulk_id = bulk.id
        dispatch(outbox_ids)

    def finished() -> bool:
        with app.app_context():
            db.session.expire_all()
            status = db.session.scalar(select(BulkImport.status).where(BulkImport.id == bulk_id))
            db.session.rollback()
            return status == "done"

    wait_for(finished, timeout=90, interval=0.3)
    with app.app_context():
        bulk = db.session.get(BulkImport, bulk_id)
        assert (bulk.processed, bulk.total) == (6, 6)
        message = db.session.get(OutboxMessage, outbox_ids[0])
        wait_for(lambda: db.session.refresh(message) or message.done_at is not None, 20)
        stored = db.session.scalar(
            select(func.count()).select_from(Evaluation).where(Evaluation.cycle_id == cycle_id)
        )
        assert stored == 6
        events = db.session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(SecurityEvent.object == f"bulk_import:{bulk_id}")
        )
        assert events == 1 + 6  # queued, then one per file
    log = (task_live.tmp / "worker-bulk.log").read_text(errors="replace")
    # The 0.05 s budget made the task continue itself through the broker.
    assert log.count("workflow.tasks.bulk.run_bulk_import") >= 2
