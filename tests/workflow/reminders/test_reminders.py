"""Reminders: the ladder in calendar and Chinese working days, who is reminded, exactly
once per (evaluation, stage, step, user), none after the stage, retries and failures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from task_smtp import SmtpServer
from task_world import World

from workflow.core.extensions import db
from workflow.models import Notice, ReminderClaim
from workflow.reminders.delivery import deliver
from workflow.reminders.operations import (
    claim_due,
    days_left,
    due_step,
    failed_deliveries,
    find_due,
    is_working_day,
)
from workflow.reminders.tasks import run_now

CST = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CST)


# --- day counting ---------------------------------------------------------------------------


def test_calendar_days_left() -> None:
    deadline = date(2026, 3, 31)
    assert days_left(date(2026, 3, 24), deadline, "calendar") == 7
    assert days_left(deadline, deadline, "calendar") == 0
    assert days_left(date(2026, 4, 2), deadline, "calendar") == -2


def test_working_days_use_official_holidays_and_makeup_days() -> None:
    # 2024 National Day: 1-7 October off; Sunday 29 September and Saturday 12 October worked (调休).
    assert not is_working_day(date(2024, 10, 3))
    assert is_working_day(date(2024, 9, 29))
    assert is_working_day(date(2024, 10, 12))
    # From Friday 27 Sept to Tuesday 8 Oct: 29 Sept (Sun, 调休), 30 Sept, 8 Oct = 3 working days.
    assert days_left(date(2024, 9, 27), date(2024, 10, 8), "working") == 3
    assert days_left(date(2024, 9, 27), date(2024, 10, 8), "calendar") == 11
    assert days_left(date(2024, 10, 9), date(2024, 10, 8), "working") == -1


def test_ladder_steps() -> None:
    deadline = date(2026, 3, 31)
    step = lambda d: due_step(d, deadline, [7, 3, 1], "calendar")  # noqa: E731
    assert step(date(2026, 3, 23)) is None  # 8 days before
    assert step(date(2026, 3, 24)) == ("d7", 7)
    assert step(date(2026, 3, 26)) == ("d7", 5)  # a beat that missed the day still sends d7
    assert step(date(2026, 3, 28)) == ("d3", 3)
    assert step(date(2026, 3, 30)) == ("d1", 1)
    assert step(date(2026, 3, 31)) == ("d1", 0)
    assert step(date(2026, 4, 1)) == ("o2026-04-01", -1)
    assert step(date(2026, 4, 2)) == ("o2026-04-02", -2)
    assert due_step(date(2026, 3, 21), deadline, [10], "calendar") == ("d10", 10)
    # working-day cycles send no overdue reminder on a day off
    assert due_step(date(2024, 10, 3), date(2024, 9, 30), [7, 3, 1], "working") is None


# --- the scan -------------------------------------------------------------------------------


def claims() -> list[tuple[str, str, str]]:
    return sorted((c.stage, c.step, _username(c.user_id)) for c in db.session.query(ReminderClaim))


def _username(user_id: int) -> str:
    from workflow.models import User

    return db.session.get(User, user_id).username


def test_submit_stage_reminds_the_units_users_once(task_world: World) -> None:
    evaluation = task_world.evaluation
    evaluation.state = "draft"
    db.session.commit()
    now = at(date(2026, 3, 24))
    first = claim_due(now)
    assert len(first.claim_ids) == 2
    assert claims() == [("submit", "d7", "unit_a"), ("submit", "d7", "unit_a_head")]
    assert claim_due(now).claim_ids == []  # same moment again: nothing new
    assert claim_due(now + timedelta(days=1)).claim_ids == []  # still d7
    assert len(claim_due(at(date(2026, 3, 28))).claim_ids) == 2  # d3
    notices = db.session.query(Notice).filter_by(kind="reminder").all()
    assert len(notices) == 4
    assert "还剩 7 天" in notices[0].title
    # Every notice names its project, as the e-mail's subject does (issue 13).
    assert all(n.title.endswith(f"：{evaluation.project.name}") for n in notices)


def test_review_stage_reminds_only_the_departments_reviewers(task_world: World) -> None:
    # self_scored is in the review stage; deadline_review is 2026-04-30
    result = claim_due(at(date(2026, 4, 29)))
    assert [(_username(c.user_id), c.step) for c in db.session.query(ReminderClaim)] == [
        ("reviewer", "d1")
    ]
    assert len(result.claim_ids) == 1


def test_confirm_stage_reminds_finance(task_world: World) -> None:
    task_world.evaluation.state = "finance_confirmation"
    db.session.commit()
    claim_due(at(date(2026, 5, 22)))
    assert claims() == [("confirm", "d7", "finance")]


def test_nothing_once_confirmed_or_inactive(task_world: World) -> None:
    task_world.evaluation.state = "confirmed"
    db.session.commit()
    for day in (date(2026, 3, 30), date(2026, 4, 29), date(2026, 5, 28), date(2026, 6, 10)):
        assert claim_due(at(day)).claim_ids == []
    task_world.evaluation.state = "draft"
    task_world.staff.active = False
    task_world.cycle.active = True
    db.session.commit()
    claim_due(at(date(2026, 3, 30)))
    assert claims() == [("submit", "d1", "unit_a_head")]


def test_overdue_daily(task_world: World) -> None:
    task_world.evaluation.state = "draft"
    db.session.commit()
    assert len(claim_due(at(date(2026, 4, 1))).claim_ids) == 2
    assert claim_due(at(date(2026, 4, 1), 18)).claim_ids == []
    assert len(claim_due(at(date(2026, 4, 2))).claim_ids) == 2
    steps = {c.step for c in db.session.query(ReminderClaim)}
    assert steps == {"o2026-04-01", "o2026-04-02"}


def test_local_day_is_china_time(task_world: World) -> None:
    task_world.evaluation.state = "draft"
    db.session.commit()
    # 2026-03-23 17:00 UTC is already 24 March 01:00 in China: 7 days before 31 March.
    assert len(claim_due(datetime(2026, 3, 23, 17, 0, tzinfo=UTC)).claim_ids) == 2


def test_per_cycle_ladder_and_working_days(task_ctx: Flask) -> None:
    from task_world import build_world

    world = build_world(
        state="draft",
        deadlines=(date(2024, 10, 8), date(2024, 10, 30), date(2024, 11, 29)),
        day_kind="working",
        ladder=[2],
    )
    assert world.cycle.reminder_days == [2]
    # Friday 27 Sept: 3 working days left -> nothing with ladder [2]
    assert claim_due(at(date(2024, 9, 27))).claim_ids == []
    # Sunday 29 Sept (调休 working day): 30 Sept and 8 Oct are left -> d2
    assert len(claim_due(at(date(2024, 9, 29))).claim_ids) == 2


def test_find_due_is_read_only(task_world: World) -> None:
    task_world.evaluation.state = "draft"
    db.session.commit()
    found = find_due(at(date(2026, 3, 30)))
    assert [(g.stage, g.step, len(pairs)) for g, pairs in found if pairs] == [("submit", "d1", 2)]
    assert db.session.query(ReminderClaim).count() == 0


# --- delivery -------------------------------------------------------------------------------


def test_run_sends_chinese_mail_once(task_mail_app: Flask, task_smtp: SmtpServer) -> None:
    from task_world import build_world

    with task_mail_app.app_context():
        world = build_world(state="draft")
        summary = run_now(at(date(2026, 3, 28)))
        assert (summary.claimed, summary.sent, summary.failed) == (2, 2, 0)
        again = run_now(at(date(2026, 3, 28)))
        assert (again.claimed, again.sent) == (0, 0)
        assert len(task_smtp.inbox) == 2
        [message] = task_smtp.inbox.to(world.staff.email)
        assert "单位填报" in message["Subject"] and "还剩 3 天" in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for part in (text, html):
            assert "政务服务信息系统建设维护和迭代升级" in part
            assert "江苏省政务服务管理办公室（机关）" in part
            assert "2026-03-31" in part
            assert f"http://jixiao.test/evaluations/{world.evaluation.id}" in part
            # The page's words, from the same function (workflow.core.days.days_text).
            assert "还剩 3 天" in part
        assert "期限：还剩 3 天" in text
        statuses = {c.status for c in db.session.query(ReminderClaim)}
        assert statuses == {"sent"}


def test_no_mail_after_the_evaluation_left_the_stage(
    task_mail_app: Flask, task_smtp: SmtpServer
) -> None:
    from task_world import build_world

    with task_mail_app.app_context():
        world = build_world(state="draft")
        scan = claim_due(at(date(2026, 3, 28)))
        world.evaluation.state = "self_scored"  # submitted between the scan and the mail
        db.session.commit()
        assert [deliver(c) for c in scan.claim_ids] == ["skipped", "skipped"]
        assert len(task_smtp.inbox) == 0


def test_redelivered_task_sends_nothing_twice(task_mail_app: Flask, task_smtp: SmtpServer) -> None:
    from task_world import build_world

    from workflow.reminders.tasks import send_claim_mail

    with task_mail_app.app_context():
        build_world(state="draft")
        scan = claim_due(at(date(2026, 3, 28)))
        for claim_id in scan.claim_ids * 2:
            send_claim_mail.apply(args=[claim_id])
        assert len(task_smtp.inbox) == 2


def test_smtp_down_retries_then_records_failure(
    task_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from task_world import build_world

    from workflow.reminders.tasks import send_claim_mail

    task_app.config.update(MAIL_MAX_RETRIES=2, MAIL_RETRY_BASE_SECONDS=1)
    with task_app.app_context():
        build_world(state="draft")
        scan = claim_due(at(date(2026, 3, 28)))
        result = send_claim_mail.apply(args=[scan.claim_ids[0]])  # eager: retries run in line
        assert result.get() == "failed"
        claim = db.session.get(ReminderClaim, scan.claim_ids[0])
        assert claim.status == "failed" and claim.attempts == 3
        assert "Connection refused" in (claim.last_error or "") or "Error" in (
            claim.last_error or ""
        )
        assert [c.id for c in failed_deliveries()] == [claim.id]
        # the in-app notice exists although the mail failed
        assert db.session.query(Notice).filter_by(user_id=claim.user_id).count() == 1


def test_cli_run_twice_sends_once(task_mail_app: Flask, task_smtp: SmtpServer) -> None:
    from task_world import build_world

    with task_mail_app.app_context():
        build_world(state="draft")
    runner = task_mail_app.test_cli_runner()
    first = runner.invoke(args=["reminders", "run", "--now", "2026-03-30T09:00:00+08:00"])
    assert first.exit_code == 0, first.output
    assert "已发送 2 封" in first.output
    second = runner.invoke(args=["reminders", "run", "--now", "2026-03-30T09:00:00+08:00"])
    assert second.exit_code == 0 and "已发送 0 封" in second.output
    assert len(task_smtp.inbox) == 2
    bad = runner.invoke(args=["reminders", "run", "--now", "yesterday"])
    assert bad.exit_code != 0 and "ISO" in bad.output


def test_clock_moved_across_the_deadline(task_mail_app: Flask, task_smtp: SmtpServer) -> None:
    """The beat task with the real clock, moved by time-machine across the deadline."""
    from task_world import build_world

    from workflow.reminders.tasks import scan_reminders

    task_mail_app.extensions["celery"].conf.update(
        task_always_eager=True, task_eager_propagates=True
    )
    with task_mail_app.app_context():
        world = build_world(state="draft")
        with time_machine.travel(at(date(2026, 3, 31), 10), tick=False):
            assert scan_reminders.apply().get()["claimed"] == 2
        with time_machine.travel(at(date(2026, 4, 1), 10), tick=False):
            assert scan_reminders.apply().get()["claimed"] == 2
            assert scan_reminders.apply().get()["claimed"] == 0
        subjects = sorted(m["Subject"] for m in task_smtp.inbox.to(world.staff.email))
        assert len(subjects) == 2
        assert any("今天" in s for s in subjects) and any("已逾期 1 天" in s for s in subjects)


def test_the_database_is_not_locked_while_talking_to_smtp(
    task_mail_app: Flask, task_smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a write lock held across a slow SMTP conversation would stop every web
    request that writes: another connection must be able to write during the send."""
    import sqlite3

    from task_world import build_world

    import workflow.core.mail
    from workflow.reminders.delivery import deliver

    path = task_mail_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    real_send = workflow.core.mail.send_mail
    seen: list[str] = []

    def send_while_another_process_writes(mail):  # type: ignore[no-untyped-def]
        other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE users SET phone = '025-1' WHERE id = (SELECT min(id) FROM users)")
            other.execute("COMMIT")
            seen.append("wrote")
        finally:
            other.close()
        status = other_status()
        seen.append(status)
        return real_send(mail)

    def other_status() -> str:
        con = sqlite3.connect(path)
        try:
            return con.execute(
                "SELECT status FROM reminder_claims WHERE id = ?", (claim_id,)
            ).fetchone()[0]
        finally:
            con.close()

    monkeypatch.setattr(workflow.core.mail, "send_mail", send_while_another_process_writes)
    with task_mail_app.app_context():
        build_world(state="draft")
        claim_id = claim_due(at(date(2026, 3, 28))).claim_ids[0]
        assert deliver(claim_id) == "sent"
        assert seen == ["wrote", "sending"]
        assert len(task_smtp.inbox) == 1
        assert db.session.get(ReminderClaim, claim_id).status == "sent"


def test_a_fresh_sending_mark_is_left_to_its_worker(
    task_mail_app: Flask, task_smtp: SmtpServer
) -> None:
    from task_world import build_world

    from workflow.reminders.delivery import deliver
    from workflow.reminders.operations import stale_claims

    with task_mail_app.app_context():
        build_world(state="draft")
        claim_id = claim_due(at(date(2026, 3, 28))).claim_ids[0]
        claim = db.session.get(ReminderClaim, claim_id)
        claim.status, claim.sending_at = "sending", datetime.now(UTC)
        db.session.commit()
        assert deliver(claim_id) == "in_progress" and len(task_smtp.inbox) == 0
        assert claim_id not in stale_claims(datetime.now(UTC))
        # A worker that died mid-send: after SENDING_STALE the claim is requeued and sent.
        claim = db.session.get(ReminderClaim, claim_id)
        claim.sending_at = datetime.now(UTC) - timedelta(minutes=11)
        db.session.commit()
        assert claim_id in stale_claims(datetime.now(UTC))
        assert deliver(claim_id) == "sent" and len(task_smtp.inbox) == 1
