"""The bulk import's Celery task, on its own queue (``bulk``): a thousand forms never delay
a PDF, a reminder or a notice.

The task works for at most a time budget (half the soft time limit, so it never meets the
limit nor the broker's visibility timeout), then hands the rest to a continuation of
itself; its outbox row is marked done when the last file is. A second hand-out while a
worker holds the import does nothing (operations.run_bulk_import claims it).
"""

from __future__ import annotations

import os
from typing import Any

from celery import shared_task
from flask import current_app

BULK_TASK = "workflow.tasks.bulk.run_bulk_import"
BULK_QUEUE = "bulk"


def _budget() -> float:
    configured = current_app.config.get("BULK_TASK_BUDGET_SECONDS") or os.environ.get(
        "BULK_TASK_BUDGET_SECONDS"
    )
    if configured:
        return float(configured)
    soft = current_app.extensions["celery"].conf.task_soft_time_limit or 240
    return max(5.0, float(soft) / 2)


@shared_task(name=BULK_TASK, bind=True)
def run_bulk_import(self: Any, bulk_import_id: int, outbox_id: int | None = None) -> int:
    from workflow.bulk import operations
    from workflow.core.extensions import db
    from workflow.core.outbox import mark_done_now
    from workflow.models import BulkImport

    outcome = operations.run_bulk_import(int(bulk_import_id), budget_seconds=_budget())
    if outcome.finished:
        mark_done_now(outbox_id)
    elif outcome.claimed:
        self.apply_async(
            args=[int(bulk_import_id)], kwargs={"outbox_id": outbox_id}, queue=BULK_QUEUE
        )
    else:
        bulk = db.session.get(BulkImport, int(bulk_import_id))
        finished = bulk is None or bulk.status == "done"
        db.session.rollback()
        if finished:
            mark_done_now(outbox_id)
    return outcome.processed
