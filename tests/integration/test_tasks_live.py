"""The task side against real PostgreSQL, Redis, SMTP and a real Celery worker process,
including the fault tests of issue 5."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from task_live_helpers import Live, wait_for
from task_smtp import free_port
from task_world import World, build_world

from workflow.core.extensions import db
from workflow.models import Evaluation, Notice, OutboxMessage, PdfFile, ReminderClaim

pytestmark = pytest.mark.integration
CST = ZoneInfo("Asia/Shanghai")


def pdf_rows(live: Live) -> list[PdfFile]:
    with live.app.app_context():
        return list(db.session.query(PdfFile).all())


def pdf_files(live: Live) -> list[Path]:
    root = Path(live.env["PDF_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def world(live: Live, state: str = "self_scored") -> SimpleNamespace:
    """The ids and addresses of a fresh world (plain values, usable outside the session)."""
    with live.app.app_context():
        w: World = build_world(state=state)
        return SimpleNamespace(
            evaluation=SimpleNamespace(id=w.evaluation.id),
            staff=SimpleNamespace(id=w.staff.id, email=w.staff.email),
            head=SimpleNamespace(id=w.head.id, email=w.head.email),
            reviewer=SimpleNamespace(id=w.reviewer.id, email=w.reviewer.email),
            finance_user=SimpleNamespace(id=w.finance_user.id, email=w.finance_user.email),
        )


def outbox_pdf(live: Live, evaluation_id: int, version: int) -> int:
    with live.app.app_context():
        row = OutboxMessage(
            kind="pdf", payload={"evaluation_id": evaluation_id, "version": version}
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def test_pdf_rendered_by_a_real_worker(task_live: Live) -> None:
    w = world(task_live)
    task_live.start_worker()
    message_id = outbox_pdf(task_live, w.evaluation.id, 2)
    with task_live.app.app_context():
        from workflow.core.outbox import dispatch

        dispatch([message_id])
    wait_for(lambda: pdf_rows(task_live), timeout=60)
    with task_live.app.app_context():
        # The task marked its outbox row done, in the commit of the PdfFile row.
        assert db.session.get(OutboxMessage, message_id).done_at is not None
    [row] = pdf_rows(task_live)
    assert (row.evaluation_id, row.version, row.state) == (w.evaluation.id, 2, "self_scored")
    [path] = pdf_files(task_live)
    assert path.read_bytes().startswith(b"%PDF") and path.stat().st_size == row.size


def test_worker_killed_while_rendering_gives_one_pdf_one_file(task_live: Live) -> None:
    w = world(task_live)
    with task_live.app.app_context():
        # A long 主要成效 (about 20 pages) keeps the render busy for a few seconds.
        evaluation = db.session.get(Evaluation, w.evaluation.id)
        evaluation.main_results = evaluation.main_results * 12
        db.session.commit()
        version = evaluation.version  # the edit itself is a new version
    worker = task_live.start_worker()
    message_id = outbox_pdf(task_live, w.evaluation.id, version)
    with task_live.app.app_context():
        from workflow.core.outbox import dispatch

        dispatch([message_id])
    # The first render in a fresh child loads the fonts (about 1-2 s): kill inside it.
    wait_for(
        lambda: b"render_evaluation_pdf" in task_live.worker_log(worker), timeout=30, interval=0.02
    )
    time.sleep(0.3)
    assert not pdf_rows(task_live), "the render finished before the kill; nothing was tested"
    task_live.kill_worker(worker, signal.SIGKILL)
    assert not pdf_rows(task_live)
    # A new worker gets the unacknowledged message back once the visibility timeout passes.
    task_live.start_worker()
    wait_for(lambda: pdf_rows(task_live), timeout=90)
    time.sleep(2)
    assert len(pdf_rows(task_live)) == 1
    files = pdf_files(task_live)
    assert [p.name for p in files] == [f"v{version}.pdf"], files  # one file, no temporary left


def test_same_pdf_requested_twice_at_once_is_one_file(task_live: Live) -> None:
    w = world(task_live)
    task_live.start_worker()
    ids = [outbox_pdf(task_live, w.evaluation.id, 2) for _ in range(2)]
    with task_live.app.app_context():
        from workflow.core.outbox import dispatch

        dispatch(ids)
    wait_for(lambda: pdf_rows(task_live), timeout=60)
    time.sleep(3)
    assert len(pdf_rows(task_live)) == 1 and len(pdf_files(task_live)) == 1


def claims_by_status(live: Live) -> dict[str, int]:
    with live.app.app_context():
        result: dict[str, int] = {}
        for claim in db.session.query(ReminderClaim):
            result[claim.status] = result.get(claim.status, 0) + 1
        return result


def test_smtp_down_for_a_while_reminder_arrives_once(task_live: Live) -> None:
    w = world(task_live, state="draft")
    task_live.start_worker()
    task_live.smtp.stop()
    from workflow.reminders.tasks import scan_reminders

    with task_live.app.app_context():
        scan_reminders.apply_async(args=[datetime(2026, 3, 28, 9, tzinfo=CST).isoformat()])
    wait_for(lambda: claims_by_status(task_live).get("retrying", 0) == 2, timeout=30)
    time.sleep(3)  # the server stays away through a few retries
    assert len(task_live.smtp.inbox) == 0
    task_live.smtp.start()
    wait_for(lambda: len(task_live.smtp.inbox) == 2, timeout=30)
    wait_for(lambda: claims_by_status(task_live) == {"sent": 2}, timeout=10)
    time.sleep(3)
    assert len(task_live.smtp.inbox) == 2
    assert len(task_live.smtp.inbox.to(w.staff.email)) == 1
    assert len(task_live.smtp.inbox.to(w.head.email)) == 1


def test_reminder_task_twice_at_once_sends_one_mail_per_person(task_live: Live) -> None:
    w = world(task_live, state="draft")
    task_live.start_worker(concurrency=2)
    task_live.start_worker(concurrency=2)  # two workers, four processes
    from workflow.reminders.tasks import scan_reminders

    moment = datetime(2026, 3, 30, 9, tzinfo=CST).isoformat()
    with task_live.app.app_context():
        for _ in range(4):
            scan_reminders.apply_async(args=[moment])
    wait_for(lambda: len(task_live.smtp.inbox) >= 2, timeout=30)
    time.sleep(3)
    assert len(task_live.smtp.inbox) == 2
    assert len(task_live.smtp.inbox.to(w.staff.email)) == 1
    assert len(task_live.smtp.inbox.to(w.head.email)) == 1
    with task_live.app.app_context():
        assert db.session.query(Notice).filter_by(kind="reminder").count() == 2


def test_concurrent_scans_in_threads_claim_once(task_live: Live) -> None:
    """Two scans racing on PostgreSQL directly (no broker in between)."""
    world(task_live, state="draft")
    from workflow.reminders.operations import claim_due

    moment = datetime(2026, 3, 30, 9, tzinfo=CST)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def scan() -> None:
        with task_live.app.app_context():
            barrier.wait()
            results.append(len(claim_due(moment).claim_ids))
            db.session.remove()

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[-1] + sum(sorted(results)[:-1]) == 2
    with task_live.app.app_context():
        assert db.session.query(ReminderClaim).count() == 2


def point_broker(celery: Any, url: str) -> None:
    """Point this process's producer at another broker (the worker keeps its own)."""
    celery._pool = None
    celery.amqp._producer_pool = None
    celery.conf.broker_url = url
    celery.conf.broker_write_url = url


def test_broker_down_during_a_state_change(task_live: Live) -> None:
    """finance_return through the real operation with the broker unreachable: the state
    change is saved; the relay sends the notice once the broker is back."""
    from workflow.core.outbox import relay
    from workflow.evaluations import operations
    from workflow.models import User

    w = world(task_live, state="finance_confirmation")
    task_live.start_worker()
    celery = task_live.app.extensions["celery"]
    good_url = celery.conf.broker_url
    point_broker(celery, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        with task_live.app.app_context():
            actor = db.session.get(User, w.finance_user.id)
            started = time.monotonic()
            result = operations.fire(
                actor, w.evaluation.id, "finance_return", reason="请补充审核意见"
            )
            # The hand-out waits at most its deadline (20 ms), never the broker's timeouts.
            assert time.monotonic() - started < 0.5
            ids = result.outbox_ids
            db.session.remove()
        with task_live.app.app_context():
            assert db.session.get(Evaluation, w.evaluation.id).state == "dept_review"
            rows = [db.session.get(OutboxMessage, i) for i in ids]
            assert rows and all(r.done_at is None for r in rows)

        def released() -> bool:
            with task_live.app.app_context():
                found = [db.session.get(OutboxMessage, i) for i in ids]
                return all(r.handed_out_at is None and r.last_error for r in found)

        # The publish failed in the background and gave the rows back to the relay.
        wait_for(released, timeout=30)
    finally:
        point_broker(celery, good_url)
    assert len(task_live.smtp.inbox) == 0
    with task_live.app.app_context():
        assert relay(now=datetime.now(UTC).replace(year=2100)) == len(ids)
    wait_for(lambda: len(task_live.smtp.inbox.to(w.reviewer.email)) == 1, timeout=30)
    with task_live.app.app_context():
        [notice] = db.session.query(Notice).filter_by(user_id=w.reviewer.id).all()
        assert "请补充审核意见" in notice.body


def test_clock_moved_across_the_deadline(task_live: Live) -> None:
    """The beat task's moment comes from the (moved) clock of the process that sends it."""
    w = world(task_live, state="draft")
    task_live.start_worker()
    from workflow.reminders.tasks import scan_reminders

    with task_live.app.app_context():
        with time_machine.travel(datetime(2026, 3, 30, 9, tzinfo=CST), tick=False):
            scan_reminders.apply_async(args=[datetime.now(UTC).isoformat()])
        wait_for(lambda: len(task_live.smtp.inbox) == 2, timeout=30)
        with time_machine.travel(datetime(2026, 4, 1, 9, tzinfo=CST), tick=False):
            scan_reminders.apply_async(args=[datetime.now(UTC).isoformat()])
            scan_reminders.apply_async(args=[datetime.now(UTC).isoformat()])
    wait_for(lambda: len(task_live.smtp.inbox) == 4, timeout=30)
    time.sleep(2)
    subjects = sorted(m["Subject"] for m in task_live.smtp.inbox.to(w.staff.email))
    assert len(subjects) == 2
    assert any("还剩 1 天" in s for s in subjects) and any("已逾期 1 天" in s for s in subjects)
    assert date(2026, 4, 1).isoformat() not in "".join(subjects)  # the deadline is shown, not today
