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


def _bundle_budget() -> float:
    import os

    from flask import current_app

    configured = current_app.config.get("BUNDLE_TASK_BUDGET_SECONDS") or os.environ.get(
        "BUNDLE_TASK_BUDGET_SECONDS"
    )
    soft = current_app.extensions["celery"].conf.task_soft_time_limit or 240
    budget = float(configured) if configured else DEFAULT_BUNDLE_BUDGET_SECONDS
    # Never near the soft time limit (nor the broker's visibility timeout).
    return min(budget, max(1.0, float(soft) / 2))


@shared_task(name=BUNDLE_TASK, bind=True)
def build_public_bundle(self: Any, bundle_id: int, outbox_id: int | None = None) -> int:
    """The public bundle of a cycle, in pieces (workflow/rechecks/publish.py). Its outbox
    row is marked done when the bundle is ready or failed; a hand-out while another worker
    holds the build does nothing."""
    from workflow.core.outbox import mark_done_now
    from workflow.rechecks import publish

    outcome = publish.run_bundle(
        int(bundle_id), budget_seconds=_bundle_budget(), outbox_id=outbox_id
    )
    if outcome.finished:
        mark_done_now(outbox_id)
    elif outcome.claimed:
        self.apply_async(args=[int(bundle_id)], kwargs={"outbox_id": outbox_id}, queue=BUNDLE_QUEUE)
    elif not publish.is_active(int(bundle_id)):
        mark_done_now(outbox_id)
    return outcome.rendered
