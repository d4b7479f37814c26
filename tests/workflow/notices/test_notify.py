"""A notice on every step: recipients per event, in-app notices, mails, exactly once."""

from __future__ import annotations

import pytest
from flask import Flask
from task_smtp import SmtpServer
from task_world import World, build_world

from workflow.core.extensions import db
from workflow.models import Notice, OutboxMessage, ReminderClaim, User
from workflow.notices.operations import handle_notify
from workflow.reminders.delivery import deliver


def message(world: World, event: str, actor: User, reason: str | None = None) -> int:
    row = OutboxMessage(
        kind="notify",
        payload={
            "evaluation_id": world.evaluation.id,
            "event": event,
            "reason": reason,
            "actor_id": actor.id,
        },
    )
    db.session.add(row)
    db.session.commit()
    return row.id


def noticed(message_id: int) -> list[str]:
    claims = db.session.query(ReminderClaim).filter_by(step=f"m{message_id}").all()
    return sorted(db.session.get(User, c.user_id).username for c in claims)


@pytest.mark.parametrize(
    ("event", "actor", "expected"),
    [
        ("submit", "staff", ["reviewer"]),
        ("return", "reviewer", ["unit_a", "unit_a_head"]),
        ("approve", "reviewer", ["finance"]),
        ("finance_return", "finance_user", ["reviewer"]),
        ("confirm", "finance_user", ["reviewer", "unit_a", "unit_a_head"]),
    ],
)
def test_recipients(task_world: World, event: str, actor: str, expected: list[str]) -> None:
    # The form where the event left it (a notice asking to act on a form that moved on is
    # not sent: test_no_notice_asks_to_act_on_a_form_that_moved_on).
    task_world.evaluation.state = TARGET_STATE[event]
    db.session.commit()
    message_id = message(task_world, event, getattr(task_world, actor))
    claim_ids = handle_notify(message_id)
    assert len(claim_ids) == len(expected)
    assert noticed(message_id) == expected
    notices = db.session.query(Notice).filter_by(kind=event).all()
    assert sorted(db.session.get(User, n.user_id).username for n in notices) == expected


TARGET_STATE = {
    "submit": "self_scored",
    "return": "draft",
    "approve": "finance_confirmation",
    "finance_return": "dept_review",
    "confirm": "confirmed",
}


@pytest.mark.parametrize(
    ("event", "now"),
    [("approve", "confirmed"), ("submit", "finance_confirmation"), ("finance_return", "confirmed")],
)
def test_no_notice_asks_to_act_on_a_form_that_moved_on(
    task_world: World, event: str, now: str
) -> None:
    """The demo approves and confirms at once: finance must not be told 待财政确认 later."""
    task_world.evaluation.state = now
    db.session.commit()
    message_id = message(task_world, event, task_world.reviewer)
    assert handle_notify(message_id) == []
    assert db.session.query(Notice).count() == 0
    assert db.session.get(OutboxMessage, message_id).done_at is not None  # never handed again


def test_a_withdrawn_submission_is_still_told_once(task_world: World) -> None:
    """Submitted, then withdrawn before the worker ran: the reviewer is told of the
    submission all the same (each event exactly once; the act is not done)."""
    task_world.evaluation.state = "draft"
    db.session.commit()
    message_id = message(task_world, "submit", task_world.staff)
    assert len(handle_notify(message_id)) == 1
    assert db.session.query(Notice).count() == 1


def test_informational_notices_stay_after_the_form_moved_on(task_world: World) -> None:
    """A return tells the unit why, even if it has already resubmitted."""
    task_world.evaluation.state = "self_scored"
    db.session.commit()
    message_id = message(task_world, "return", task_world.reviewer, reason="请补充佐证材料")
    assert len(handle_notify(message_id)) == 2
    titles = {n.title for n in db.session.query(Notice)}
    assert titles == {f"主管部门已退回自评表：{task_world.evaluation.project.name}"}


def test_actor_is_not_told_of_their_own_step(task_world: World) -> None:
    task_world.evaluation.state = "self_scored"
    db.session.commit()
    message_id = message(task_world, "submit", task_world.reviewer)
    assert handle_notify(message_id) == []


def test_handled_twice_creates_nothing_twice(task_world: World) -> None:
    message_id = message(task_world, "return", task_world.reviewer, reason="请补充佐证材料")
    assert len(handle_notify(message_id)) == 2
    assert handle_notify(message_id) == []
    assert db.session.query(Notice).count() == 2
    notice = db.session.query(Notice).first()
    assert "请补充佐证材料" in notice.body


def test_unknown_message_is_ignored(task_world: World) -> None:
    assert handle_notify(123456) == []
    row = OutboxMessage(
        kind="notify", payload={"evaluation_id": task_world.evaluation.id, "event": "bogus"}
    )
    db.session.add(row)
    db.session.commit()
    assert handle_notify(row.id) == []


def test_return_mail_carries_the_reason(task_mail_app: Flask, task_smtp: SmtpServer) -> None:
    with task_mail_app.app_context():
        world = build_world(state="draft")
        world.staff.email = "staff@example.test"
        db.session.commit()
        message_id = message(
            world, "return", world.reviewer, reason="预算执行率<80%，请说明原因 & 补充材料"
        )
        for claim_id in handle_notify(message_id):
            assert deliver(claim_id) == "sent"
        [mail] = task_smtp.inbox.to("staff@example.test")
        assert "主管部门已退回自评表" in mail["Subject"]
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert "原因：预算执行率<80%，请说明原因 & 补充材料" in text
        assert "预算执行率&lt;80%，请说明原因 &amp; 补充材料" in html
        assert "陈静" in text  # who returned it


def test_confirm_mail_has_the_grade(task_mail_app: Flask, task_smtp: SmtpServer) -> None:
    with task_mail_app.app_context():
        world = build_world(state="confirmed")
        world.evaluation.final_total = world.evaluation.self_total
        world.evaluation.final_grade = "优"
        db.session.commit()
        for claim_id in handle_notify(message(world, "confirm", world.finance_user)):
            deliver(claim_id)
        assert len(task_smtp.inbox) == 3
        [mail] = task_smtp.inbox.to(world.head.email)
        text = mail.get_body(("plain",)).get_content()
        assert "确认得分：98.50" in text and "绩效等级：优" in text


def test_user_without_email_still_gets_the_notice(task_world: World) -> None:
    task_world.reviewer.email = None
    db.session.commit()
    [claim_id] = handle_notify(message(task_world, "submit", task_world.staff))
    assert deliver(claim_id) == "skipped"
    assert db.session.query(Notice).filter_by(user_id=task_world.reviewer.id).count() == 1
