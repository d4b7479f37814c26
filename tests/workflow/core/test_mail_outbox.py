"""Mail over a real SMTP server (aiosmtpd), and the outbox contract with the operations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from task_smtp import SmtpServer, free_port
from task_world import World

from workflow.core.extensions import db
from workflow.core.mail import Mail, MailError, send_mail, valid_address
from workflow.core.outbox import dispatch, relay
from workflow.models import OutboxMessage, PdfFile
from workflow.reminders.tasks import backoff


def test_chinese_text_and_html(task_mail_app: Flask, task_smtp: SmtpServer) -> None:
    task_mail_app.config["MAIL_DEFAULT_SENDER"] = "绩效自评系统 <noreply@jixiao.test>"
    with task_mail_app.app_context():
        send_mail(
            Mail(
                ("a@example.test",),
                "【提醒】单位填报将于 2026-03-31 截止",
                "正文：汉字",
                "<p>汉字</p>",
            )
        )
    [(rcpt, message)] = task_smtp.inbox.messages
    assert rcpt == ["a@example.test"]
    assert message["Subject"] == "【提醒】单位填报将于 2026-03-31 截止"
    assert "绩效自评系统" in message["From"]
    assert message.get_body(("plain",)).get_content().strip() == "正文：汉字"
    assert message.get_body(("html",)).get_content().strip() == "<p>汉字</p>"


def test_server_away_raises_mail_error(task_app: Flask) -> None:
    with task_app.app_context(), pytest.raises(MailError):
        send_mail(Mail(("a@example.test",), "主题", "正文"))


def test_suppressed(task_app: Flask) -> None:
    task_app.config["MAIL_SUPPRESS_SEND"] = True
    with task_app.app_context():
        send_mail(Mail(("a@example.test",), "主题", "正文"))


def test_helpers() -> None:
    assert valid_address("a@b.cn") and not valid_address("") and not valid_address(None)
    assert not valid_address("no-at-sign")
    delays = [backoff(n, 30, 900) for n in range(8)]
    assert all(1 <= d <= 900 for d in delays)
    assert delays[-1] > delays[0]


# --- outbox ---------------------------------------------------------------------------------


def outbox(world: World, kind: str = "pdf", age: timedelta = timedelta(0)) -> OutboxMessage:
    payload = (
        {"evaluation_id": world.evaluation.id, "version": world.evaluation.version}
        if kind == "pdf"
        else {
            "evaluation_id": world.evaluation.id,
            "event": "submit",
            "reason": None,
            "actor_id": world.staff.id,
        }
    )
    row = OutboxMessage(kind=kind, payload=payload, created_at=datetime.now(UTC) - age)
    db.session.add(row)
    db.session.commit()
    return row


def test_dispatch_off_does_nothing(task_world: World) -> None:
    row = outbox(task_world)
    dispatch([row.id])
    row = db.session.get(OutboxMessage, row.id)
    assert row.handed_out_at is None and row.done_at is None and row.attempts == 0


def test_dispatch_with_broker_down_never_raises(task_world: World, task_app: Flask) -> None:
    task_app.config["OUTBOX_DISPATCH"] = True
    celery = task_app.extensions["celery"]
    celery.conf.update(broker_url=f"redis://127.0.0.1:{free_port()}/0")
    row = outbox(task_world)
    row.handed_out_at = datetime.now(UTC)
    db.session.commit()
    started = time.monotonic()
    dispatch([row.id])
    # The request waits at most the send deadline (20 ms), whatever the broker does.
    assert time.monotonic() - started < 0.2

    # The publish fails in the background and gives the row back to the relay.
    def released() -> bool:
        db.session.rollback()
        db.session.expire_all()
        found = db.session.get(OutboxMessage, row.id)
        return found.handed_out_at is None and found.attempts == 1 and bool(found.last_error)

    deadline = time.monotonic() + 15
    while not released():
        assert time.monotonic() < deadline, "the failed hand-out was never released"
        time.sleep(0.05)
    assert db.session.get(OutboxMessage, row.id).done_at is None


def test_after_a_failed_hand_out_the_requests_rows_go_straight_to_the_relay(
    task_world: World, task_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that refuses: the first hand-out tries and fails; those within the back-off
    are given back to the relay without a try (no pile-up behind a hung or refusing
    broker); after it, the next one tries again."""
    from workflow.core import outbox as outbox_module

    task_app.config.update(OUTBOX_DISPATCH=True, OUTBOX_BROKER_BACKOFF_SECONDS=2)
    task_app.extensions["celery"].conf.update(broker_url=f"redis://127.0.0.1:{free_port()}/0")
    tries: list[int] = []
    real_send = outbox_module._send

    def counting_send(celery_app: Any, message_id: int, kind: str, payload: Any) -> None:
        tries.append(message_id)
        real_send(celery_app, message_id, kind, payload)

    monkeypatch.setattr(outbox_module, "_send", counting_send)

    def handed_out_and_released() -> None:
        row = outbox(task_world)
        row.handed_out_at = datetime.now(UTC)
        db.session.commit()
        started = time.monotonic()
        dispatch([row.id])
        assert time.monotonic() - started < 0.2
        deadline = time.monotonic() + 15
        while True:
            db.session.rollback()
            db.session.expire_all()
            found = db.session.get(OutboxMessage, row.id)
            if found.handed_out_at is None and found.attempts == 1:
                break
            assert time.monotonic() < deadline, "the hand-out was never given back"
            time.sleep(0.02)
        handed.append(row.id)

    handed: list[int] = []
    handed_out_and_released()
    assert tries == handed[:1]
    handed_out_and_released()  # within the back-off: not tried, given back at once
    assert tries == handed[:1]
    assert "broker unavailable" in db.session.get(OutboxMessage, handed[1]).last_error
    time.sleep(2.1)
    handed_out_and_released()  # the back-off is over: tried again
    assert tries == [handed[0], handed[2]]


def test_dispatch_and_relay_eager(task_world: World, task_app: Flask) -> None:
    """Eager mode only checks the wiring; tests/integration runs a real worker."""
    task_app.config.update(OUTBOX_DISPATCH=True, MAIL_SUPPRESS_SEND=True)
    task_app.extensions["celery"].conf.update(task_always_eager=True, task_eager_propagates=True)
    pdf = outbox(task_world, "pdf")
    dispatch([pdf.id])
    db.session.expire_all()
    # The task marked its row done: the relay never sends it again.
    assert db.session.get(OutboxMessage, pdf.id).done_at is not None
    assert db.session.query(PdfFile).count() == 1
    fresh = outbox(task_world, "notify")
    old = outbox(task_world, "notify", age=timedelta(minutes=1))
    assert relay() == 1  # the fresh one is still its request's own
    db.session.expire_all()
    assert db.session.get(OutboxMessage, old.id).done_at is not None
    assert db.session.get(OutboxMessage, fresh.id).done_at is None
    assert relay(now=datetime.now(UTC) + timedelta(seconds=10)) == 1
    assert relay(now=datetime.now(UTC) + timedelta(hours=1)) == 0  # all done


def test_pdf_task_is_idempotent(task_world: World, task_app: Flask) -> None:
    from workflow.documents.tasks import render_evaluation_pdf

    first = render_evaluation_pdf.apply(args=[task_world.evaluation.id, 2]).get()
    second = render_evaluation_pdf.apply(args=[task_world.evaluation.id, 2]).get()
    assert first == second
    files = list(Path(task_app.config["PDF_DIR"]).rglob("*"))
    assert [f.name for f in files if f.is_file()] == ["v2.pdf"]


def test_relay_hands_out_again_until_the_task_marks_done(
    task_world: World, task_app: Flask
) -> None:
    """A row handed out but never done (the message was lost, or its worker died) goes out
    again after OUTBOX_REHAND_SECONDS; once done, never again."""
    task_app.config.update(OUTBOX_DISPATCH=True, OUTBOX_REHAND_SECONDS=60)
    celery = task_app.extensions["celery"]
    row = outbox(task_world, "pdf")
    row.handed_out_at = datetime.now(UTC)  # handed out by its request; the message is lost
    db.session.commit()
    sent: list[tuple[Any, ...]] = []

    def record(_app: Any, *args: Any) -> None:
        sent.append(args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("workflow.core.outbox._send", record)
        assert relay() == 0  # within the re-hand-out interval: still the request's
        assert relay(now=datetime.now(UTC) + timedelta(seconds=61)) == 1
        assert sent == [(row.id, "pdf", row.payload)]
        db.session.expire_all()
        again = db.session.get(OutboxMessage, row.id)
        assert again.attempts == 1 and again.handed_out_at is not None
        assert relay(now=datetime.now(UTC) + timedelta(seconds=61)) == 0  # just handed out
        assert relay(now=datetime.now(UTC) + timedelta(seconds=125)) == 1
    # The real task runs (eagerly) and marks the row done; nothing is handed out again.
    celery.conf.update(task_always_eager=True, task_eager_propagates=True)
    assert relay(now=datetime.now(UTC) + timedelta(seconds=190)) == 1
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).done_at is not None
    assert relay(now=datetime.now(UTC) + timedelta(days=1)) == 0
    assert db.session.query(PdfFile).count() == 1


def test_outbox_relay_command(task_world: World, task_app: Flask) -> None:
    task_app.config.update(OUTBOX_DISPATCH=True, MAIL_SUPPRESS_SEND=True)
    task_app.extensions["celery"].conf.update(task_always_eager=True, task_eager_propagates=True)
    row = outbox(task_world, "notify", age=timedelta(minutes=1))
    result = task_app.test_cli_runner().invoke(args=["outbox", "relay"])
    assert result.exit_code == 0, result.output
    assert "交付 1 条" in result.output and "未完成共 0 条" in result.output
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).done_at is not None
