"""A notice on every workflow step: an outbox 'notify' message becomes notices and e-mails.

payload: {"evaluation_id", "event", "reason", "actor_id"}. Recipients by event:
submit -> the department's reviewers; return -> the unit's users, with the reason;
approve -> finance; finance_return -> the department's reviewers, with the reason;
confirm -> the unit's users and the department's reviewers; upload_on_behalf (the
department or finance saved a filled 自评表 workbook into the draft) -> the unit's users,
with who uploaded which file. The actor is not told of their own step.

Each (message, user) is claimed once in the delivery ledger (reminder_claims, stage
"notify", step "m<message id>"), so a message handled twice creates no second notice and
no second mail.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, literal, or_, select, true, update

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.outbox import mark_done
from workflow.models import Evaluation, Notice, OutboxMessage, ReminderClaim, User, utcnow
from workflow.reminders.operations import (
    NOTIFY_STAGE,
    STATUS_CLAIMED,
    UNIT_ROLES,
    _insert_claims,
    evaluation_link,
)

log = logging.getLogger(__name__)

EVENT_TITLES = {
    "submit": "单位已提交自评，待审核",
    "return": "主管部门已退回自评表",
    "approve": "主管部门审核通过，待财政确认",
    "finance_return": "财政已退回主管部门重新审核",
    "confirm": "财政已确认定级",
    "upload_on_behalf": "自评表草稿已由上级代为上传Excel填写",
}
# What the payload's text is, where it is not the reason of a step.
REASON_LABELS = {"upload_on_behalf": "说明"}


# Notices that ask someone to act, and the states in which that act has been done. A notice
# handled after the act (the demo confirms right after approving; a worker that was down)
# would ask finance to confirm a form already confirmed: it is not sent. A form that went
# back (withdrawn, returned) keeps its notice: each event is told exactly once.
ACTED_ON = {
    "submit": ("finance_confirmation", "confirmed"),
    "approve": ("confirmed",),
    "finance_return": ("finance_confirmation", "confirmed"),
}


def recipients_condition(event: str, evaluation: Evaluation) -> Any:
    unit_users = and_(User.role.in_(UNIT_ROLES), User.org_id == evaluation.unit_id)
    reviewers = and_(User.role == "reviewer", User.org_id == evaluation.department_id)
    finance = User.role == "finance"
    return {
        "submit": reviewers,
        "return": unit_users,
        "approve": finance,
        "finance_return": reviewers,
        "confirm": or_(unit_users, reviewers),
        "upload_on_behalf": unit_users,
    }[event]


def step_key(message_id: int) -> str:
    return f"m{message_id}"


def notice_text(event: str, evaluation: Evaluation, reason: str | None) -> tuple[str, str]:
    title = f"{EVENT_TITLES.get(event, event)}：{evaluation.project.name}"
    body = f"填报单位：{evaluation.unit.name}；当前状态：{evaluation.state_label}"
    if event == "confirm":
        total, grade = evaluation.current_total()
        if total is not None:
            body += f"；确认得分：{total}，绩效等级：{grade or ''}"
    if reason:
        body += f"\n{REASON_LABELS.get(event, '原因')}：{reason}"
    return title, body


def handle_notify(message_id: int) -> list[int]:
    """Claim a notice for every recipient of the message; return the new claim ids (their
    mails are to be sent). A message already handled returns []."""
    begin_write()
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.kind != "notify":
        db.session.rollback()
        log.warning("notify: no notify message %s", message_id)
        return []
    if message.done_at is not None:
        db.session.rollback()
        return []  # a second hand-out of a message already handled
    payload = message.payload or {}
    if payload.get("targets_id") is not None:
        # A step of a project's targets: in-app notices only (no mail yet).
        from workflow.targets.notices import handle_targets_notify

        db.session.rollback()
        handle_targets_notify(message_id, payload)
        return []
    if payload.get("recheck_item_id") is not None:
        # A step of a re-check (抽查复核): in-app notices only.
        from workflow.rechecks.notify import handle_recheck_notify

        db.session.rollback()
        handle_recheck_notify(message_id, payload)
        return []
    event = str(payload.get("event", ""))
    evaluation = db.session.get(Evaluation, int(payload.get("evaluation_id", 0)))
    if evaluation is None or event not in EVENT_TITLES:
        log.warning("notify: message %s has an unknown evaluation or event %r", message_id, event)
        mark_done(message_id)  # nothing will ever come of it: the relay must not loop
        db.session.commit()
        return []
    if evaluation.state in ACTED_ON.get(event, ()):
        log.info(
            "notify: %s of evaluation %s not sent, the form is now %s",
            event,
            evaluation.id,
            evaluation.state,
        )
        mark_done(message_id)
        db.session.commit()
        return []
    actor_id = payload.get("actor_id")
    stage_deadline = evaluation.cycle.deadline_submit
    now = datetime.now(UTC)
    users = select(User.id.label("user_id")).where(
        recipients_condition(event, evaluation), User.active.is_(true())
    )
    if actor_id is not None:
        users = users.where(User.id != int(actor_id))
    sub = users.subquery()
    rows = _insert_claims(
        select(
            literal(evaluation.id),
            literal(NOTIFY_STAGE),
            literal(step_key(message_id)),
            sub.c.user_id,
            literal(stage_deadline),
            literal(STATUS_CLAIMED),
            literal(0),
            literal(now),
        )
    )
    title, body = notice_text(event, evaluation, payload.get("reason"))
    if rows:
        db.session.execute(
            Notice.__table__.insert(),
            [
                {
                    "user_id": user_id,
                    "evaluation_id": evaluation.id,
                    "kind": event,
                    "title": title[:300],
                    "body": body,
                    "created_at": now,
                }
                for _, _, user_id in rows
            ],
        )
    # Done in the transaction that made the claims: their mails have their own ledger.
    mark_done(message_id)
    db.session.commit()
    return [r[0] for r in rows]


def build_notify_mail(claim: ReminderClaim, user: User, evaluation: Evaluation) -> Any:
    from workflow.core.mail import render_mail

    message = db.session.get(OutboxMessage, int(claim.step.removeprefix("m")))
    if message is None:
        return None
    payload = message.payload or {}
    event = str(payload.get("event", ""))
    reason = payload.get("reason")
    title, _ = notice_text(event, evaluation, reason)
    total, grade = evaluation.current_total()
    actor = db.session.get(User, int(payload["actor_id"])) if payload.get("actor_id") else None
    return render_mail(
        "notice",
        title,
        to=(user.email,),
        user=user,
        event_title=EVENT_TITLES.get(event, event),
        project=evaluation.project.name,
        unit=evaluation.unit.name,
        department=evaluation.department.name,
        state=evaluation.state_label,
        reason=reason,
        reason_label=REASON_LABELS.get(event, "原因"),
        actor=actor.name if actor else "",
        total=total if event == "confirm" else None,
        grade=grade if event == "confirm" else None,
        link=evaluation_link(evaluation.id),
    )


def mark_read(user_id: int, notice_id: int) -> Notice | None:
    """Mark one of the user's notices read (one commit); None when it is not theirs."""
    begin_write()
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.user_id != user_id:
        return None
    if notice.read_at is None:
        notice.read_at = utcnow()
    db.session.commit()
    return notice


def mark_all_read(user_id: int) -> int:
    """Mark every unread notice of the user read (one commit); returns how many."""
    begin_write()
    result = db.session.execute(
        update(Notice)
        .where(Notice.user_id == user_id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return int(result.rowcount)
