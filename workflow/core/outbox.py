"""The outbox relay: the outbox row is the truth, the broker only a way to wake a worker.

- An operation writes its side effects as outbox rows in the transaction of the change
  (`new_message`), stamped handed_out_at = now when it will hand them out itself.
- After its commit it calls `dispatch(ids)`: the publish runs on one background thread of
  the process, and the request waits for it at most OUTBOX_SEND_DEADLINE_MS (20 ms). A broker
  that refuses or hangs therefore costs a request at most that; a failed publish clears
  handed_out_at so that the next relay tick sends the row, and for
  OUTBOX_BROKER_BACKOFF_SECONDS (5) after it the requests' rows go straight to the relay.
- The task that does the work marks the row done in its own transaction (`mark_done`).
- `relay()` (beat, every OUTBOX_RELAY_SECONDS, and `flask outbox relay`) hands out every
  open row never handed out, and again every open row whose last hand-out is older than
  OUTBOX_REHAND_SECONDS: a message lost by the broker, or held by a worker that died, comes
  back within minutes, not after the broker's visibility timeout. Every task is idempotent,
  so a second hand-out of a finished row does nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import OutboxMessage

log = logging.getLogger(__name__)

# A row the request just created is its own to hand out; the relay leaves it this long.
RELAY_AFTER = timedelta(seconds=5)
RELAY_BATCH = 500
DEFAULT_REHAND_SECONDS = 180
DEFAULT_SEND_DEADLINE_MS = 20
DEFAULT_BROKER_BACKOFF_SECONDS = 5

# The features' tasks, by their registered names: the relay is plumbing and imports no
# feature (the task modules are registered by workflow.core.celery).
PDF_TASK = "workflow.tasks.pdf.render_evaluation_pdf"
NOTIFY_TASK = "workflow.tasks.notify.handle_notify_message"
BULK_TASK = "workflow.tasks.bulk.run_bulk_import"
BUNDLE_TASK = "workflow.tasks.pdf.build_public_bundle"
SHEETS_ZIP_TASK = "workflow.tasks.bulk.build_sheets_zip"

Row = tuple[int, str, dict[str, Any]]


def _now() -> datetime:
    return datetime.now(UTC)


def _setting(name: str, default: int) -> int:
    try:
        value = current_app.config.get(name)
    except RuntimeError:
        value = None
    if value in (None, ""):
        value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def dispatch_enabled() -> bool:
    return bool(current_app.config.get("OUTBOX_DISPATCH", True))


def new_message(kind: str, payload: dict[str, Any]) -> OutboxMessage:
    """An outbox row for the current transaction. When the request hands it out itself after
    the commit, the hand-out is stamped now, so that the relay leaves it alone for
    OUTBOX_REHAND_SECONDS instead of sending it a second time while it waits in a queue."""
    return OutboxMessage(
        kind=kind, payload=payload, handed_out_at=_now() if dispatch_enabled() else None
    )


def mark_done(message_id: int | None) -> None:
    """Mark the row done inside the caller's write transaction (the task's own commit)."""
    if message_id is None:
        return
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == int(message_id), OutboxMessage.done_at.is_(None))
        .values(done_at=_now(), last_error=None)
    )


def touch(message_id: int | None) -> None:
    """A long task that continues itself in pieces says it is alive (in the caller's write
    transaction): the relay hands its row out again only OUTBOX_REHAND_SECONDS after the
    last sign of progress, not every few minutes of a long build."""
    if message_id is None:
        return
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == int(message_id), OutboxMessage.done_at.is_(None))
        .values(handed_out_at=_now())
    )


def mark_done_now(message_id: int | None) -> None:
    """Mark the row done in a transaction of its own (a task that found nothing to do)."""
    if message_id is None:
        return
    begin_write()
    mark_done(message_id)
    db.session.commit()


# --------------------------------------------------------------------------- sending


def _send(celery_app: Any, message_id: int, kind: str, payload: dict[str, Any]) -> None:
    tasks = celery_app.tasks
    if kind == "pdf":
        tasks[PDF_TASK].apply_async(
            args=[int(payload["evaluation_id"]), int(payload["version"])],
            kwargs={"outbox_id": message_id},
            queue="pdf",
            retry=False,
        )
    elif kind == "notify":
        tasks[NOTIFY_TASK].apply_async(args=[message_id], queue="mail", retry=False)
    elif kind == "bulk_import":
        tasks[BULK_TASK].apply_async(
            args=[int(payload["bulk_import_id"])],
            kwargs={"outbox_id": message_id},
            queue="bulk",
            retry=False,
        )
    elif kind == "public_bundle":
        # The PDF worker: it renders every form of the bundle, in pieces that queue behind
        # the PDFs waiting meanwhile (workflow/rechecks/publish.py).
        tasks[BUNDLE_TASK].apply_async(
            args=[int(payload["bundle_id"])],
            kwargs={"outbox_id": message_id},
            queue="pdf",
            retry=False,
        )
    elif kind == "sheets_zip":
        # The bulk worker (Excel work): the sheets of a department or of finance, in pieces
        # (workflow/workbooks/zipjob.py).
        tasks[SHEETS_ZIP_TASK].apply_async(
            args=[int(payload["zip_id"])],
            kwargs={"outbox_id": message_id},
            queue="bulk",
            retry=False,
        )
    else:
        raise ValueError(f"unknown outbox kind {kind!r}")


def _release(engine: Engine, ids: list[int], error: str) -> None:
    """The hand-out of these rows failed: clear handed_out_at so the next relay tick sends
    them (not only after OUTBOX_REHAND_SECONDS), and count the attempt."""
    if not ids:
        return
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin_immediate=True)
        conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.done_at.is_(None))
            .values(
                handed_out_at=None,
                attempts=OutboxMessage.attempts + 1,
                last_error=error[:2000],
            )
        )
        conn.commit()


def _send_guarded(celery_app: Any, engine: Engine, rows: list[Row], backoff: float) -> int:
    """The requests' hand-out, on the publisher thread. After a failed publish the broker is
    taken to be away for ``backoff`` seconds: hand-outs in that window go straight back to
    the relay instead of each waiting out the socket timeout of a hung broker (10 s) or the
    connection retries of a refusing one, so that the requests' hand-outs never pile up
    behind one another during an outage. The relay itself always tries."""
    if time.monotonic() < getattr(celery_app, "_outbox_down_until", 0.0):
        _release(engine, [r[0] for r in rows], "broker unavailable after a failed hand-out")
        return 0
    sent = _send_all(celery_app, engine, rows)
    if sent < len(rows):
        celery_app._outbox_down_until = time.monotonic() + backoff
    return sent


def _send_all(celery_app: Any, engine: Engine, rows: list[Row]) -> int:
    """Publish the rows in order; on the first failure (the broker is away) release that
    row and every one after it. Returns how many went to the broker."""
    for index, (message_id, kind, payload) in enumerate(rows):
        try:
            _send(celery_app, message_id, kind, payload)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "outbox %s not handed out (%s); the relay sends it later", message_id, error
            )
            try:
                _release(engine, [r[0] for r in rows[index:]], error)
            except Exception:
                log.exception("could not release outbox rows %s", [r[0] for r in rows[index:]])
            return index
    return len(rows)


@dataclass
class _Job:
    run: Callable[[], int]
    done: threading.Event = field(default_factory=threading.Event)
    sent: int = 0


class _Publisher:
    """One daemon thread per process that publishes the requests' outbox rows, so that a
    request can stop waiting for a broker that hangs. Started lazily, and again after a
    fork (gunicorn's workers are forked from the master)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue[_Job] = queue.Queue(maxsize=10_000)
        self._busy = False
        self._busy_since = 0.0

    def stuck(self, after: float) -> bool:
        """Whether the job in hand has been waiting on the broker longer than ``after``
        seconds (a hung broker): a request then need not wait for its own hand-out."""
        return self._busy and time.monotonic() - self._busy_since > after

    def submit(self, job: _Job) -> bool:
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=10_000)
                threading.Thread(target=self._run, name="outbox-publisher", daemon=True).start()
                self._pid = os.getpid()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            # The broker has hung for a long while: leave these rows to the relay.
            return False
        return True

    def backlog(self) -> int:
        """Hand-outs of this process still waiting for the broker (0 in another process)."""
        if self._pid != os.getpid():
            return 0
        return self._queue.qsize() + (1 if self._busy else 0)

    def _run(self) -> None:
        jobs = self._queue
        while True:
            job = jobs.get()
            self._busy_since = time.monotonic()
            self._busy = True
            try:
                job.sent = job.run()
            except Exception:
                log.exception("outbox publisher failed")
            finally:
                self._busy = False
                job.done.set()


_publisher = _Publisher()


def publisher_backlog() -> int:
    return _publisher.backlog()


def publish_soon(run: Callable[[], int]) -> bool:
    """Run `run` (which publishes to the broker) on the publisher thread, and wait for it at
    most OUTBOX_SEND_DEADLINE_MS: a request never waits longer for the broker. False when
    the publisher is so far behind that the job was not taken."""
    job = _Job(run)
    if not _publisher.submit(job):
        return False
    deadline = _setting("OUTBOX_SEND_DEADLINE_MS", DEFAULT_SEND_DEADLINE_MS) / 1000
    if _publisher.stuck(deadline):
        # A hand-out ahead of this one already waits past the deadline on a broker that
        # hangs: this one cannot be done sooner, so the request does not wait at all.
        return True
    if not job.done.wait(deadline):
        log.info("broker slow: the hand-out goes on in the background")
    return True


def _open_rows(ids: list[int]) -> list[Row]:
    rows = [
        (int(i), str(k), dict(p or {}))
        for i, k, p in db.session.execute(
            select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.payload)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.done_at.is_(None))
            .order_by(OutboxMessage.id)
        )
    ]
    # End the read transaction before anything is sent: on SQLite a read transaction that
    # later writes after another connection wrote fails with "database is locked".
    db.session.rollback()
    return rows


def dispatch(message_ids: list[int]) -> None:
    """Hand these rows to their queues after the commit. Never raises, and never holds the
    request longer than OUTBOX_SEND_DEADLINE_MS."""
    if not message_ids or not dispatch_enabled():
        return
    try:
        rows = _open_rows([int(i) for i in message_ids])
        if not rows:
            return
        celery_app = current_app.extensions["celery"]
        engine = db.engine
        if celery_app.conf.task_always_eager:
            # Eager tasks run in this thread with this app context (unit tests only).
            _send_all(celery_app, engine, rows)
            return
        backoff = _setting("OUTBOX_BROKER_BACKOFF_SECONDS", DEFAULT_BROKER_BACKOFF_SECONDS)
        send = functools.partial(_send_guarded, celery_app, engine, rows, backoff)
        if not publish_soon(send):
            _release(engine, [r[0] for r in rows], "publisher queue full")
    except Exception:
        log.exception("outbox dispatch failed; the relay will send %s", message_ids)
        try:
            db.session.rollback()
        except Exception:
            log.exception("rollback after dispatch failure failed")


def dispatch_now(message_ids: list[int]) -> int:
    """Hand these rows out in the caller's thread (a command, which exits right after and
    would take the publisher thread with it). Returns how many went to the broker; the
    rest stay for the relay."""
    if not message_ids or not dispatch_enabled():
        return 0
    rows = _open_rows([int(i) for i in message_ids])
    if not rows:
        return 0
    return _send_all(current_app.extensions["celery"], db.engine, rows)


# --------------------------------------------------------------------------- the relay


@dataclass
class RelayResult:
    due: int
    sent: int


def _claim_due(now: datetime, fresh: timedelta, rehand: timedelta, limit: int) -> list[Row]:
    """Take the due open rows and stamp their hand-out, in one write transaction, so that
    two relays at once (beat and an operator's `flask outbox relay`) never take the same row."""
    begin_write()
    due = and_(
        OutboxMessage.done_at.is_(None),
        or_(
            and_(OutboxMessage.handed_out_at.is_(None), OutboxMessage.created_at <= now - fresh),
            OutboxMessage.handed_out_at <= now - rehand,
        ),
    )
    rows = [
        (int(i), str(k), dict(p or {}))
        for i, k, p in db.session.execute(
            select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.payload)
            .where(due)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ]
    if rows:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([r[0] for r in rows]))
            .values(handed_out_at=now, attempts=OutboxMessage.attempts + 1)
        )
    db.session.commit()
    return rows


def relay(
    now: datetime | None = None,
    older_than: timedelta = RELAY_AFTER,
    rehand_after: timedelta | None = None,
) -> int:
    """Hand out every open row that is due; returns how many went to the broker."""
    return relay_result(now, older_than, rehand_after).sent


def relay_result(
    now: datetime | None = None,
    older_than: timedelta = RELAY_AFTER,
    rehand_after: timedelta | None = None,
) -> RelayResult:
    moment = now or _now()
    if rehand_after is None:
        rehand_after = timedelta(seconds=_setting("OUTBOX_REHAND_SECONDS", DEFAULT_REHAND_SECONDS))
    rows = _claim_due(moment, older_than, rehand_after, RELAY_BATCH)
    if not rows:
        return RelayResult(0, 0)
    sent = _send_all(current_app.extensions["celery"], db.engine, rows)
    log.info("outbox relay: %d of %d handed out", sent, len(rows))
    return RelayResult(len(rows), sent)


def open_rows_count() -> int:
    from sqlalchemy import func

    return int(
        db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.done_at.is_(None))
        )
        or 0
    )


@shared_task(name="workflow.tasks.outbox.relay_outbox")
def relay_outbox() -> int:
    return relay()
