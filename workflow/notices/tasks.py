"""Turn an outbox 'notify' message into notices and mails."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workflow.tasks.notify.handle_notify_message")
def handle_notify_message(message_id: int) -> int:
    from workflow.notices.operations import handle_notify
    from workflow.reminders.tasks import enqueue_claims

    return enqueue_claims(handle_notify(int(message_id)))
