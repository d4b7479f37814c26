"""The ZIP of 自评表 sheets on the bulk queue (Excel work, like the bulk import): the job in
workflow/workbooks/zipjob.py, in time-boxed pieces that continue one another."""

from __future__ import annotations

from typing import Any

from celery import shared_task

# The name routes it to the bulk queue (celeryconfig: workflow.tasks.bulk.*).
SHEETS_ZIP_TASK = "workflow.tasks.bulk.build_sheets_zip"
SHEETS_ZIP_QUEUE = "bulk"
# A piece holds the bulk worker at most this long (about 375 sheets at 80 ms), then queues
# its continuation behind the imports that arrived meanwhile.
DEFAULT_ZIP_BUDGET_SECONDS = 30.0


@shared_task(name=SHEETS_ZIP_TASK, bind=True)
def build_sheets_zip(self: Any, zip_id: int, outbox_id: int | None = None) -> int:
    """One piece of the ZIP; its outbox row is marked done when it is ready or failed."""
    from workflow.core import jobs
    from workflow.workbooks import zipjob

    def continuation() -> None:
        self.apply_async(
            args=[int(zip_id)], kwargs={"outbox_id": outbox_id}, queue=SHEETS_ZIP_QUEUE
        )

    return jobs.step(
        zipjob.KIND,
        int(zip_id),
        outbox_id,
        jobs.budget("ZIP_TASK_BUDGET_SECONDS", DEFAULT_ZIP_BUDGET_SECONDS),
        continuation,
    )
