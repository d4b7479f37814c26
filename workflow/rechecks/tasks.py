"""抽查复核's tasks: 整改 reminders on beat (notices and mail claims, the mails sent by the
reminders' queue), the risk facts on beat, and the public bundle on the PDF queue."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="workflow.tasks.rechecks.remind_rectifications")
def remind_rectifications() -> int:
    from workflow.rechecks.rectify import remind
    from workflow.reminders.tasks import enqueue_claims

    return enqueue_claims(remind())


@shared_task(name="workflow.tasks.rechecks.refresh_facts")
def refresh_facts() -> int:
    """Take the risk facts of evaluations submitted or moved on since the last run, so that
    the badges on the queues and the evaluation page are current (a batch refreshes too)."""
    from workflow.core.database import begin_write
    from workflow.core.extensions import db
    from workflow.rechecks import facts

    begin_write()
    done = facts.refresh()
    db.session.commit()
    return done


BUNDLE_TASK = "workflow.tasks.pdf.build_public_bundle"
BUNDLE_QUEUE = "pdf"
# A piece of the build holds the PDF worker at most this long, then queues its
# continuation behind the PDFs that arrived meanwhile (about 75 forms at 0.4 s).
DEFAULT_BUNDLE_BUDGET_SECONDS = 30.0


@shared_task(name=BUNDLE_TASK, bind=True)
def build_public_bundle(self: Any, bundle_id: int, outbox_id: int | None = None) -> int:
    """The public bundle of a cycle, in pieces (workflow/rechecks/publish.py, the job
    machinery in workflow/core/jobs.py)."""
    from workflow.core import jobs
    from workflow.rechecks import publish

    def continuation() -> None:
        self.apply_async(args=[int(bundle_id)], kwargs={"outbox_id": outbox_id}, queue=BUNDLE_QUEUE)

    return jobs.step(
        publish.KIND,
        int(bundle_id),
        outbox_id,
        jobs.budget("BUNDLE_TASK_BUDGET_SECONDS", DEFAULT_BUNDLE_BUDGET_SECONDS),
        continuation,
    )
