"""Fault tests of issue 15 against the real things on 127.0.0.1: PostgreSQL, a private
redis-server (stopped, and paused with SIGSTOP), aiosmtpd (stopped and restarted), real
Celery worker processes (killed with SIGKILL) and a real beat.

Nothing lost: the outbox row stays open until the task marks it done, and the relay hands
it out again. Nothing waits: a submit never waits for the broker."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from task_live_helpers import ROOT, VENV_BIN, Live, wait_for
from test_tasks_live import pdf_rows, world

from workflow.core.extensions import db
from workflow.models import (
    AuditLog,
    Evaluation,
    Notice,
    OutboxMessage,
    PdfFile,
    Project,
    ReminderClaim,
    User,
)

pytestmark = pytest.mark.integration
CST = ZoneInfo("Asia/Shanghai")


def open_outbox(live: Live) -> int:
    with live.app.app_context():
        return db.session.query(OutboxMessage).filter(OutboxMessage.done_at.is_(None)).count()


def relay_until_done(live: Live, timeout: float, rehand: float = 3.0) -> None:
    """What beat (or an operator's `flask outbox relay`) does, every half second, with a
    short re-hand-out interval, until every outbox row is done."""
    from workflow.core.outbox import relay

    def done() -> bool:
        with live.app.app_context():
            relay(rehand_after=timedelta(seconds=rehand))
            db.session.remove()
        return open_outbox(live) == 0

    wait_for(done, timeout=timeout, interval=0.5)


def submittable(live: Live, evaluation_id: int) -> None:
    """Give the world's draft the seed form's entries, so that it passes submit's checks."""
    from scoring.schemes import scheme_from_dict
    from workflow.admin.cli import seed_entries

    with live.app.app_context():
        evaluation = db.session.get(Evaluation, evaluation_id)
        evaluation.entries = seed_entries(scheme_from_dict(evaluation.scheme))[0]
        db.session.commit()


def test_submits_never_wait_for_a_stopped_or_paused_broker(task_live: Live) -> None:
    """Submit (PDF + notice to the reviewer) and withdraw, with the broker up, paused with
    SIGSTOP (it accepts connections and never answers) and stopped (refused; its queued
    messages are gone with it): every submit under 200 ms (or within 100 ms of the same
    submit with no hand-out, when the shared machine is slower than that), and afterwards
    every notice and mail there exactly once and every outbox row done, with the worker
    alive."""
    from workflow.evaluations import operations

    w = world(task_live, state="draft")
    submittable(task_live, w.evaluation.id)
    redis = task_live.redis
    assert redis.process is not None
    timings: dict[str, list[float]] = {"off": [], "up": [], "paused": [], "stopped": []}

    def cycles(phase: str, n: int = 3) -> None:
        for _ in range(n):
            with task_live.app.app_context():
                staff = db.session.get(User, w.staff.id)
                started = time.perf_counter()
                operations.fire(staff, w.evaluation.id, "submit")
                timings[phase].append(time.perf_counter() - started)
                operations.fire(staff, w.evaluation.id, "withdraw")
                db.session.remove()

    # One cycle first, untimed: a process's first submit loads the scheme, the templates and
    # the broker connection (about 0.2 s, whatever the broker does).
    cycles("up", 1)
    timings["up"].clear()
    # The same submits with no hand-out at all: what this machine takes right now.
    task_live.app.config["OUTBOX_DISPATCH"] = False
    cycles("off")
    task_live.app.config["OUTBOX_DISPATCH"] = True
    cycles("up")
    os.kill(redis.process.pid, signal.SIGSTOP)
    try:
        cycles("paused")
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    redis.stop()
    cycles("stopped")
    redis.start()  # same port, empty: the messages it held are lost
    print("submit seconds:", timings)
    # Under 200 ms, or, when the shared machine itself is slower than that right now (the
    # submit with no hand-out above), under that plus 100 ms: a broker's timeouts (2 s
    # refused, 10 s hung before issue 15) are far beyond either.
    limit = max(0.2, max(timings["off"]) + 0.1)
    for phase in ("up", "paused", "stopped"):
        assert max(timings[phase]) < limit, (phase, timings[phase], limit)
    submits = 1 + sum(len(v) for v in timings.values())  # with the warm-up
    # The worker starts after the timed submits, so that its PDF renders do not compete with
    # them for this machine's two cores; it meets the restarted broker and the relay.
    worker = task_live.start_worker()
    relay_until_done(task_live, timeout=120)
    wait_for(lambda: len(task_live.smtp.inbox.to(w.reviewer.email)) >= submits, timeout=60)
    time.sleep(2)
    assert len(task_live.smtp.inbox.to(w.reviewer.email)) == submits
    with task_live.app.app_context():
        assert db.session.query(Notice).filter_by(user_id=w.reviewer.id).count() == submits
        assert db.session.query(OutboxMessage).count() == 2 * submits
        final = db.session.get(Evaluation, w.evaluation.id).version
        assert db.session.query(PdfFile).filter_by(evaluation_id=w.evaluation.id).count() >= 1
        assert final > 2
    assert worker.poll() is None, "the worker died"
    print(
        "submit ms, median per phase:",
        {k: round(statistics.median(v) * 1000, 1) for k, v in timings.items()},
    )


def more_evaluations(live: Live, w: SimpleNamespace, n: int) -> list[tuple[int, int]]:
    """n more evaluations like the world's, each its own project: (id, version)."""
    with live.app.app_context():
        base = db.session.get(Evaluation, w.evaluation.id)
        found = []
        for i in range(n):
            project = Project(unit_id=base.unit_id, name=f"项目 {i + 1}", summary="概况")
            db.session.add(project)
            db.session.flush()
            copy = Evaluation(
                project_id=project.id,
                cycle_id=base.cycle_id,
                unit_id=base.unit_id,
                department_id=base.department_id,
                state=base.state,
                version=base.version,
                scheme=base.scheme,
                entries=dict(base.entries or {}),
                main_results=base.main_results,
                problems=base.problems,
                measures=base.measures,
                filled_by=base.filled_by,
                phone=base.phone,
                unit_head=base.unit_head,
            )
            db.session.add(copy)
            db.session.flush()
            found.append((copy.id, copy.version))
        db.session.commit()
        return found


def start_beat(live: Live) -> subprocess.Popen[bytes]:
    log = open(live.tmp / "beat.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "wsgi.celery",
            "beat",
            "--loglevel",
            "INFO",
            "-s",
            str(live.tmp / "beat-schedule"),
        ],
        cwd=ROOT,
        env=live.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    live.workers.append(process)  # stopped with the workers
    return process


def test_worker_killed_during_a_pdf_burst_every_pdf_arrives(task_live: Live) -> None:
    """A burst of PDFs; the whole worker (parent and children) is killed in the middle. The
    broker's visibility timeout is an hour here, as in production, so only the relay (run by
    a real beat every second, re-hand-out after 5 s) can bring the lost ones back."""
    from workflow.core.outbox import dispatch, new_message

    task_live.env.update(
        CELERY_VISIBILITY_TIMEOUT="3600",
        CELERY_TASK_TIME_LIMIT="60",
        CELERY_TASK_SOFT_TIME_LIMIT="50",
        OUTBOX_RELAY_SECONDS="1",
        OUTBOX_REHAND_SECONDS="5",
    )
    w = world(task_live)
    evaluations = [(w.evaluation.id, 2), *more_evaluations(task_live, w, 7)]
    worker = task_live.start_worker()
    with task_live.app.app_context():
        rows = [new_message("pdf", {"evaluation_id": ev, "version": v}) for ev, v in evaluations]
        db.session.add_all(rows)
        db.session.commit()
        ids = [r.id for r in rows]
        dispatch(ids)
    wait_for(lambda: len(pdf_rows(task_live)) >= 1, timeout=60, interval=0.05)
    assert len(pdf_rows(task_live)) < len(evaluations), "the burst finished before the kill"
    task_live.kill_worker(worker, signal.SIGKILL)
    started = time.monotonic()
    task_live.start_worker()
    start_beat(task_live)
    wait_for(lambda: len(pdf_rows(task_live)) == len(evaluations), timeout=300)
    elapsed = time.monotonic() - started
    assert elapsed < 300
    wait_for(lambda: open_outbox(task_live) == 0, timeout=30)
    rows_now = pdf_rows(task_live)
    assert sorted((r.evaluation_id, r.version) for r in rows_now) == sorted(evaluations)
    for row in rows_now:
        path = Path(task_live.env["PDF_DIR"]) / row.path
        assert path.read_bytes().startswith(b"%PDF") and path.stat().st_size == row.size
    print(f"all {len(evaluations)} PDFs {elapsed:.1f} s after the kill")


def claims_by_status(live: Live) -> dict[str, int]:
    with live.app.app_context():
        result: dict[str, int] = {}
        for claim in db.session.query(ReminderClaim):
            result[claim.status] = result.get(claim.status, 0) + 1
        return result


RUN_AT = "2026-03-30T09:00:00+08:00"


def test_smtp_down_during_reminders_run_each_delivered_once(task_live: Live) -> None:
    w = world(task_live, state="draft")
    task_live.app.config["MAIL_SUPPRESS_SEND"] = False  # this process sends the first attempt
    task_live.smtp.stop()
    runner = task_live.app.test_cli_runner()
    result = runner.invoke(args=["reminders", "run", "--now", RUN_AT])
    assert result.exit_code == 1 and "转入重试 2 条" in result.output, result.output
    assert claims_by_status(task_live) == {"retrying": 2}
    task_live.start_worker()
    time.sleep(3)  # a retry or two while the server is still away
    assert len(task_live.smtp.inbox) == 0
    task_live.smtp.start()
    wait_for(lambda: claims_by_status(task_live) == {"sent": 2}, timeout=60)
    time.sleep(3)
    assert len(task_live.smtp.inbox.to(w.staff.email)) == 1
    assert len(task_live.smtp.inbox.to(w.head.email)) == 1
    assert len(task_live.smtp.inbox) == 2
    again = runner.invoke(args=["reminders", "run", "--now", RUN_AT])
    assert again.exit_code == 0 and "已发送 0 封" in again.output
    assert len(task_live.smtp.inbox) == 2


def test_resend_after_a_final_failure_delivered_once(task_live: Live) -> None:
    """Both mails fail for good; two administrators resend all at once (and one resends
    again): each mail arrives once, with one audit row per resent delivery."""
    from workflow.reminders.delivery import resend_failed
    from workflow.reminders.tasks import enqueue_claims

    task_live.env["MAIL_MAX_RETRIES"] = "1"
    w = world(task_live, state="draft")
    task_live.app.config["MAIL_SUPPRESS_SEND"] = False
    task_live.smtp.stop()
    runner = task_live.app.test_cli_runner()
    assert runner.invoke(args=["reminders", "run", "--now", RUN_AT]).exit_code == 1
    task_live.start_worker()
    wait_for(lambda: claims_by_status(task_live) == {"failed": 2}, timeout=60)
    task_live.smtp.start()
    time.sleep(2)
    assert len(task_live.smtp.inbox) == 0  # failed for good: nothing retries by itself
    taken: list[list[int]] = []
    barrier = threading.Barrier(2)

    def press() -> None:
        with task_live.app.app_context():
            admin = db.session.get(
                User, db.session.query(User.id).filter_by(username="sysadmin").scalar()
            )
            barrier.wait()
            mine = resend_failed(admin)
            taken.append(mine)
            enqueue_claims(mine)
            db.session.remove()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(t) for t in taken) == [0, 2]
    repeat = runner.invoke(args=["reminders", "resend", "--all", "--as", "sysadmin"])
    assert repeat.exit_code == 0 and "重新发送 0 条" in repeat.output, repeat.output
    wait_for(lambda: claims_by_status(task_live) == {"sent": 2}, timeout=60)
    time.sleep(3)
    assert len(task_live.smtp.inbox.to(w.staff.email)) == 1
    assert len(task_live.smtp.inbox.to(w.head.email)) == 1
    assert len(task_live.smtp.inbox) == 2
    with task_live.app.app_context():
        audit = db.session.query(AuditLog).filter_by(event="resend_mail").all()
        assert len(audit) == 2 and {a.actor_name for a in audit} == {"系统管理员"}
        # Two attempts each (MAIL_MAX_RETRIES=1); at-least-once delivery may add one more
        # under load (a task handed out again), never fewer.
        attempts = [a.scores and a.scores["attempts"] for a in audit]
        assert all(n and 2 <= n <= 3 for n in attempts), attempts
