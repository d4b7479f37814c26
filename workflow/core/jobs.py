"""Jobs a worker builds in pieces, one row each (workflow/models/job.py): the public bundle
(workflow/rechecks/publish.py) and the ZIP of 自评表 sheets (workflow/workbooks/zipjob.py)
share all of this; a `JobKind` says only what goes in and how a piece and the file are made.

- `create` (the request): the job row (queued), its audit row and an outbox row in one
  commit; nothing is built in the request. The caller returns the job already queued or
  building instead, and a partial unique index settles two requests at the same moment
  (`running` is asked again after the IntegrityError).
- `run` (the worker): claims the job (`claimed_at`; a claim older than CLAIM_STALE is taken
  over), snapshots the evaluations on its first run, writes one part after the other into
  a staging folder, one commit of progress each, and stops after its time budget so that
  the task continues itself behind the work queued meanwhile. With every part written it
  assembles the file, marks the row ready and removes the files the job supersedes. Any
  error marks it failed with a Chinese message; the user may ask again.
- `step` is the task's body (outbox row done, or the continuation queued); `run_queued`
  builds in the caller's process (a command, for a machine without that worker).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.outbox import mark_done_now, new_message, touch
from workflow.models import AuditLog, OutboxMessage, utcnow
from workflow.models.job import ACTIVE_STATES

log = logging.getLogger(__name__)

CLAIM_STALE = timedelta(minutes=5)


@dataclass(frozen=True)
class JobKind:
    model: Any  # a JobMixin model
    name: str  # in the log
    outbox_kind: str
    payload_key: str
    failure: str  # the page's message, "（OSError）" appended
    root: Callable[[], Path]  # the folder the files live under
    folder: str
    stem: str
    # The evaluation ids to go in (read once, on the first run).
    snapshot: Callable[[Any], list[int]]
    # What the pieces need (a scrubber, the requester), made once per run.
    prepare: Callable[[Any], Any]
    # Write the part of one evaluation (context, index, evaluation id, staging folder);
    # write nothing for one no longer to be included.
    piece: Callable[[Any, int, int, Path], None]
    # Write the file from the parts (job, context, ids, staging, target); the forms in it.
    assemble: Callable[[Any, Any, list[int], Path, Path], int]
    # The conditions selecting the older jobs whose file this one replaces.
    supersedes: Callable[[Any], list[Any]]


@dataclass
class Outcome:
    claimed: bool
    finished: bool
    rendered: int


def staging_dir(kind: JobKind, job_id: int) -> Path:
    return kind.root() / kind.folder / f"{kind.stem}-{job_id}.parts"


def relative_file(kind: JobKind, job_id: int) -> str:
    return f"{kind.folder}/{kind.stem}-{job_id}.zip"


def file_of(kind: JobKind, job: Any) -> Path | None:
    """The job's file if it is ready and still there (not replaced by a newer one)."""
    if job is None or job.state != "ready" or job.path is None:
        return None
    path = kind.root() / str(job.path)
    return path if path.is_file() else None


def percent(job: Any) -> int:
    if job.state == "ready":
        return 100
    return int(job.done * 100 / job.total) if job.total else 0


def newest(kind: JobKind, *where: Any) -> Any:
    model = kind.model
    return db.session.scalar(select(model).where(*where).order_by(model.id.desc()).limit(1))


def newest_ready(kind: JobKind, *where: Any) -> Any:
    """The newest job matching ``where`` whose file is there."""
    model = kind.model
    found = newest(kind, *where, model.state == "ready", model.path.is_not(None))
    return found if file_of(kind, found) is not None else None


def active(kind: JobKind, *where: Any) -> Any:
    model = kind.model
    return db.session.scalar(select(model).where(*where, model.state.in_(ACTIVE_STATES)))


# --- the request ---------------------------------------------------------------------------


def create(
    kind: JobKind, job: Any, audit: Callable[[Any], AuditLog], running: Callable[[], Any]
) -> tuple[Any, list[int]]:
    """Add the queued job, its outbox row and its audit row, and commit (inside the caller's
    write transaction). A concurrent request that committed first wins: its job is returned,
    with no outbox ids (nothing new to hand out)."""
    db.session.add(job)
    db.session.flush()
    message = new_message(kind.outbox_kind, {kind.payload_key: job.id})
    db.session.add(message)
    db.session.add(audit(job))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        other = running()
        if other is None:
            raise
        return other, []
    return job, [message.id]


# --- the worker ----------------------------------------------------------------------------


def _claim(kind: JobKind, job_id: int) -> bool:
    model = kind.model
    begin_write()
    now = utcnow()
    taken = db.session.execute(
        update(model)
        .where(
            model.id == job_id,
            model.state.in_(ACTIVE_STATES),
            or_(model.claimed_at.is_(None), model.claimed_at < now - CLAIM_STALE),
        )
        .values(state="building", claimed_at=now)
    ).rowcount
    db.session.commit()
    return bool(taken)


def is_active(kind: JobKind, job_id: int) -> bool:
    state = db.session.scalar(select(kind.model.state).where(kind.model.id == job_id))
    db.session.rollback()
    return state in ACTIVE_STATES


def run(
    kind: JobKind, job_id: int, *, budget_seconds: float | None = None, outbox_id: int | None = None
) -> Outcome:
    """Work on the job for at most ``budget_seconds`` (at least one part; None: to the end).
    Never raises: a failure marks the job failed."""
    if not _claim(kind, job_id):
        return Outcome(claimed=False, finished=False, rendered=0)
    try:
        return _work(kind, job_id, budget_seconds, outbox_id)
    except Exception as exc:  # noqa: BLE001 - the page shows the failure; the user asks again
        log.exception("%s %s failed", kind.name, job_id)
        db.session.rollback()
        _fail(kind, job_id, exc)
        return Outcome(claimed=True, finished=True, rendered=0)


def _start(kind: JobKind, job_id: int) -> list[int]:
    """The snapshot of the evaluations, taken once (a continuation keeps it)."""
    job = db.session.get(kind.model, job_id)
    assert job is not None
    if job.evaluation_ids is not None:
        ids = list(job.evaluation_ids)
        db.session.rollback()
        return ids
    ids = kind.snapshot(job)
    db.session.rollback()
    begin_write()
    db.session.execute(
        update(kind.model)
        .where(kind.model.id == job_id)
        .values(evaluation_ids=ids, total=len(ids), done=0, started_at=utcnow())
    )
    db.session.commit()
    return ids


def _work(
    kind: JobKind, job_id: int, budget_seconds: float | None, outbox_id: int | None
) -> Outcome:
    model = kind.model
    ids = _start(kind, job_id)
    context = kind.prepare(db.session.get(model, job_id))
    staging = staging_dir(kind, job_id)
    started = time.monotonic()
    rendered = 0
    done = int(db.session.scalar(select(model.done).where(model.id == job_id)))
    while done < len(ids):
        if budget_seconds is not None and rendered and time.monotonic() - started > budget_seconds:
            _release(kind, job_id)
            return Outcome(claimed=True, finished=False, rendered=rendered)
        kind.piece(context, done, ids[done], staging)
        # The write transaction starts after the slow part (never hold SQLite's lock).
        db.session.rollback()
        begin_write()
        db.session.execute(
            update(model)
            .where(model.id == job_id, model.done == done)
            .values(done=done + 1, claimed_at=utcnow())
        )
        touch(outbox_id)
        db.session.commit()
        done += 1
        rendered += 1
    _finish(kind, job_id, context, ids)
    return Outcome(claimed=True, finished=True, rendered=rendered)


def _finish(kind: JobKind, job_id: int, context: Any, ids: list[int]) -> None:
    model = kind.model
    staging = staging_dir(kind, job_id)
    relative = relative_file(kind, job_id)
    target = kind.root() / relative
    job = db.session.get(model, job_id)
    forms = kind.assemble(job, context, ids, staging, target)
    size = target.stat().st_size
    conditions = kind.supersedes(job)
    db.session.rollback()
    begin_write()
    older = db.session.scalars(
        select(model).where(*conditions, model.id != job_id, model.path.is_not(None))
    ).all()
    for previous in older:
        (kind.root() / str(previous.path)).unlink(missing_ok=True)
        previous.path = None
    db.session.execute(
        update(model)
        .where(model.id == job_id)
        .values(
            state="ready",
            path=relative,
            size=size,
            forms=forms,
            finished_at=utcnow(),
            claimed_at=None,
            error=None,
        )
    )
    db.session.commit()
    shutil.rmtree(staging, ignore_errors=True)
    log.info("%s %s ready: %d forms, %d KB", kind.name, job_id, forms, size // 1024)


def _release(kind: JobKind, job_id: int) -> None:
    begin_write()
    db.session.execute(update(kind.model).where(kind.model.id == job_id).values(claimed_at=None))
    db.session.commit()


def _fail(kind: JobKind, job_id: int, exc: Exception) -> None:
    begin_write()
    db.session.execute(
        update(kind.model)
        .where(kind.model.id == job_id)
        .values(
            state="failed",
            error=f"{kind.failure}（{type(exc).__name__}）",
            finished_at=utcnow(),
            claimed_at=None,
        )
    )
    db.session.commit()
    shutil.rmtree(staging_dir(kind, job_id), ignore_errors=True)


def write_zip(target: Path, fill: Callable[[Any], None], compression: int) -> None:
    """A ZIP written by ``fill(zipfile)`` to a temporary file beside the target and renamed
    into place: a reader (or a worker killed half-way) never sees half a file."""
    import zipfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression) as archive:
            fill(archive)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- the task and the command --------------------------------------------------------------


def budget(setting: str, default: float) -> float:
    """A piece's time budget: the setting (config or environment) or the default, never near
    the soft time limit (nor the broker's visibility timeout)."""
    from flask import current_app

    configured = current_app.config.get(setting) or os.environ.get(setting)
    soft = current_app.extensions["celery"].conf.task_soft_time_limit or 240
    chosen = float(configured) if configured else default
    return min(chosen, max(1.0, float(soft) / 2))


def step(
    kind: JobKind,
    job_id: int,
    outbox_id: int | None,
    budget_seconds: float,
    continuation: Callable[[], None],
) -> int:
    """The task's body: one piece of the job. Its outbox row is marked done when the job is
    ready or failed; the continuation is queued when the budget ran out; a hand-out while
    another worker holds the job does nothing."""
    outcome = run(kind, job_id, budget_seconds=budget_seconds, outbox_id=outbox_id)
    if outcome.finished:
        mark_done_now(outbox_id)
    elif outcome.claimed:
        continuation()
    elif not is_active(kind, job_id):
        mark_done_now(outbox_id)
    return outcome.rendered


def run_queued(kind: JobKind) -> list[int]:
    """Build every queued or abandoned job of this kind in this process, to the end, and
    mark their outbox rows done; the ids built."""
    waiting = db.session.scalars(
        select(kind.model.id).where(kind.model.state.in_(ACTIVE_STATES))
    ).all()
    db.session.rollback()
    built = [job_id for job_id in waiting if run(kind, job_id).finished]
    rows = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(
            OutboxMessage.kind == kind.outbox_kind, OutboxMessage.done_at.is_(None)
        )
    ).all()
    db.session.rollback()
    for message_id, payload in rows:
        if int((payload or {}).get(kind.payload_key, 0)) in built:
            mark_done_now(message_id)
    return built
