"""Delivery of one claim's mail (a deadline reminder or a step notice), and the
synchronous run of `flask reminders run`.

It sits beside the claims (operations) and the step notices (workflow.notices.operations):
both kinds of claim go out here, so neither of those imports the other's mail.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import STAGES, Actor, AuditLog, Evaluation, ReminderClaim, User
from workflow.notices.operations import build_notify_mail
from workflow.reminders.operations import (
    NOTIFY_STAGE,
    SENDING_STALE,
    STATUS_CLAIMED,
    STATUS_FAILED,
    STATUS_RETRYING,
    STATUS_SENDING,
    STATUS_SENT,
    STATUS_SKIPPED,
    build_reminder_mail,
)


class Delivery:
    """Outcome of one delivery attempt."""

    SENT = "sent"
    SKIPPED = "skipped"
    ALREADY = "already"
    IN_PROGRESS = "in_progress"
    MISSING = "missing"


def deliver(claim_id: int, as_of: datetime | None = None) -> str:
    """Send the mail of one claim (reminder or step notice). Raises MailError to retry.

    Re-reads everything: a claim already sent is a no-op (redelivery), and a reminder for
    an evaluation that has left its stage is skipped.
    """
    from workflow.core.mail import MailError, send_mail, valid_address

    begin_write()
    # The row lock makes a second delivery of the same claim (a redelivered or requeued
    # task) wait until the first has marked it "sending" (or sent), and then leave it;
    # SQLite's IMMEDIATE does the same.
    claim = db.session.execute(
        select(ReminderClaim)
        .where(ReminderClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if claim is None:
        db.session.rollback()
        return Delivery.MISSING
    if claim.status in (STATUS_SENT, STATUS_SKIPPED):
        db.session.rollback()
        return Delivery.ALREADY
    now = datetime.now(UTC)
    if claim.status == STATUS_SENDING and claim.sending_at is not None:
        since = (
            claim.sending_at if claim.sending_at.tzinfo else claim.sending_at.replace(tzinfo=UTC)
        )
        if now - since < SENDING_STALE:
            db.session.rollback()
            return Delivery.IN_PROGRESS
    user = db.session.get(User, claim.user_id)
    evaluation = db.session.get(Evaluation, claim.evaluation_id)
    if user is None or evaluation is None:
        return _finish(claim, STATUS_SKIPPED, "用户或评价已不存在")
    if claim.stage in STAGES and evaluation.state not in STAGES[claim.stage][1]:
        return _finish(claim, STATUS_SKIPPED, "评价已离开该阶段，不再提醒")
    if not user.active:
        return _finish(claim, STATUS_SKIPPED, "用户已停用")
    if not valid_address(user.email):
        return _finish(claim, STATUS_SKIPPED, "用户没有有效的邮箱地址（站内通知已生成）")
    if claim.stage == NOTIFY_STAGE:
        mail = build_notify_mail(claim, user, evaluation)
    elif claim.stage == "rectify":  # 整改 reminders (workflow/rechecks/rectify.py)
        from workflow.rechecks.rectify import build_mail

        mail = build_mail(claim, user, evaluation)
    else:
        mail = build_reminder_mail(claim, user, evaluation, as_of)
    if mail is None:
        return _finish(claim, STATUS_SKIPPED, "无邮件内容")
    # Mark and commit before talking to SMTP: a slow mail server must not hold the database
    # lock (on SQLite it would stop every web request that writes).
    claim.status = STATUS_SENDING
    claim.sending_at = now
    db.session.commit()
    try:
        send_mail(mail)
    except MailError:
        raise  # the task records the failure and retries with backoff
    except Exception as exc:  # a mail that cannot be built or sent at all: same path
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
    begin_write()
    claim = db.session.get(ReminderClaim, claim_id, populate_existing=True)
    if claim is None:
        db.session.rollback()
        return Delivery.MISSING
    claim.status = STATUS_SENT
    claim.attempts = (claim.attempts or 0) + 1
    claim.sent_at = datetime.now(UTC)
    claim.last_error = None
    db.session.commit()
    return Delivery.SENT


def _finish(claim: ReminderClaim, status: str, note: str) -> str:
    claim.status = status
    claim.last_error = note
    db.session.commit()
    return Delivery.SKIPPED


def record_failure(claim_id: int, error: str, final: bool) -> None:
    """Count a failed attempt; after the last retry the claim shows as failed to the admin."""
    db.session.rollback()
    begin_write()
    claim = db.session.get(ReminderClaim, claim_id)
    if claim is None:
        return
    claim.attempts = (claim.attempts or 0) + 1
    claim.last_error = error[:2000]
    claim.status = STATUS_FAILED if final else STATUS_RETRYING
    db.session.commit()


def resend_failed(actor: Actor, claim_ids: list[int] | None = None) -> list[int]:
    """An administrator sends failed deliveries again: these claims, or every failed one.

    Exactly once: the claim goes from "failed" back to "claimed" in a conditional UPDATE, so
    of two administrators pressing at once only one takes it, and only that one writes the
    audit row and queues the mail (whose delivery the ledger again makes exactly-once).
    Returns the claims taken; the caller hands them to the mail queue after the commit.
    """
    from sqlalchemy import update

    begin_write()
    condition = ReminderClaim.status == STATUS_FAILED
    if claim_ids is not None:
        condition = condition & ReminderClaim.id.in_([int(i) for i in claim_ids])
    failed = {
        int(claim_id): (evaluation_id, attempts, error)
        for claim_id, evaluation_id, attempts, error in db.session.execute(
            select(
                ReminderClaim.id,
                ReminderClaim.evaluation_id,
                ReminderClaim.attempts,
                ReminderClaim.last_error,
            )
            .where(condition)
            .with_for_update()
        )
    }
    if not failed:
        db.session.rollback()
        return []
    taken = [
        int(i)
        for i in db.session.execute(
            update(ReminderClaim)
            .where(ReminderClaim.id.in_(list(failed)), ReminderClaim.status == STATUS_FAILED)
            # attempts 0 and "claimed": should the queueing below be lost, the scan's
            # stale-claim check hands it out again.
            .values(status=STATUS_CLAIMED, attempts=0, last_error=None)
            .returning(ReminderClaim.id)
        ).scalars()
    ]
    org = getattr(actor, "org", None)
    for claim_id in taken:
        evaluation_id, attempts, error = failed[claim_id]
        db.session.add(
            AuditLog(
                evaluation_id=evaluation_id,
                actor_id=actor.id,
                actor_name=actor.name,
                role=actor.role,
                org_id=actor.org_id,
                org_name=getattr(org, "name", "") or "",
                event="resend_mail",
                reason=f"重新发送失败的邮件（投递记录 {claim_id}，此前尝试 {attempts} 次）",
                scores={"claim_id": claim_id, "attempts": attempts, "last_error": error},
            )
        )
    db.session.commit()
    return taken
