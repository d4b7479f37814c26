"""整改 reminders on beat: notices and mail claims, the mails sent by the reminders' queue."""

from __future__ import annotations

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
