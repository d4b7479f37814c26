"""Mail over a real SMTP server (aiosmtpd), and the outbox contract with the operations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    assert db.session.get(OutboxMessage, row.id).dispatched_at is None


def test_dispatch_with_broker_down_never_raises(task_world: World, task_app: Flask) -> None:
    task_app.config["OUTBOX_DISPATCH"] = True
    celery = task_app.extensions["celery"]
    celery.conf.update(broker_url=f"redis://127.0.0.1:{free_port()}/0")
    row = outbox(task_world)
    started = time.monotonic()
    dispatch([row.id])
    assert time.monotonic() - started < 15
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert row.dispatched_at is None and row.attempts == 1 and row.last_error


def test_dispatch_and_relay_eager(task_world: World, task_app: Flask) -> None:
    """Eager mode only checks the wiring; tests/integration runs a real worker."""
    task_app.config.update(OUTBOX_DISPATCH=True, MAIL_SUPPRESS_SEND=True)
    task_app.extensions["celery"].conf.update(task_always_eager=True, task_eager_propagates=True)
    pdf = outbox(task_world, "pdf")
    dispatch([pdf.id])
    db.session.expire_all()
    assert db.session.get(OutboxMessage, pdf.id).dispatched_at is not None
    assert db.session.query(PdfFile).count() == 1
    fresh = outbox(task_world, "notify")
    old = outbox(task_world, "notify", age=timedelta(minutes=1))
    assert relay() == 1  # the fresh one is still its request's own
    db.session.expire_all()
    assert db.session.get(OutboxMessage, old.id).dispatched_at is not None
    assert db.session.get(OutboxMessage, fresh.id).dispatched_at is None
    assert relay(now=datetime.now(UTC) + timedelta(seconds=10)) == 1
    assert relay() == 0


def test_pdf_task_is_idempotent(task_world: World, task_app: Flask) -> None:
    from workflow.documents.tasks import render_evaluation_pdf

    first = render_evaluation_pdf.apply(args=[task_world.evaluation.id, 2]).get()
    second = render_evaluation_pdf.apply(args=[task_world.evaluation.id, 2]).get()
    assert first == second
    files = list(Path(task_app.config["PDF_DIR"]).rglob("*"))
    assert [f.name for f in files if f.is_file()] == ["v2.pdf"]
