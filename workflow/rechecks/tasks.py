"""整改 reminders on beat: notices and mail claims, the mails sent by the reminders' queue."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workflow.tasks.rechecks.remind_rectifications")
def remind_rectifications() -> int:
    from workflow.rechecks.rectify import remind
    from workflow.reminders.tasks import enqueue_claims

    return enqueue_claims(remind())
