"""The public bundle (公开包) as a request the PDF worker fulfils.

- `request_bundle` (the finance user's POST): a `public_bundles` row (queued), an audit row
  and an outbox row, one commit; nothing is rendered in the request. While a build of the
  cycle is queued or building, a second request returns that one (a partial unique index
  settles two requests at the same moment).
- `run_bundle` (the worker): claims the build (`claimed_at`; a claim older than
  CLAIM_STALE is taken over), snapshots the cycle's confirmed evaluations on its first run,
  renders one public PDF after the other into a staging folder under PDF_DIR, one commit
  of progress per form, and stops after its time budget so that the task continues itself
  behind the PDFs queued meanwhile. When every form is rendered it writes the ZIP (the
  PDFs, the summary workbook, the note), marks the row ready and removes the file of the
  cycle's previous bundle. Any error marks it failed with a Chinese message; the finance
  user may ask again.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from workflow import policy
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.outbox import new_message, touch
from workflow.evaluations.operations import Forbidden, NotFound, ValidationFailed
from workflow.models import Actor, AuditLog, Cycle, Evaluation, PublicBundle, utcnow
from workflow.rechecks import bundle

log = logging.getLogger(__name__)

CLAIM_STALE = timedelta(minutes=5)
FOLDER = "public"
ACTIVE_STATES = ("queued", "building")


def pdf_dir() -> Path:
    return Path(current_app.config["PDF_DIR"])


def staging_dir(bundle_id: int) -> Path:
    return pdf_dir() / FOLDER / f"bundle-{bundle_id}.parts"


def zip_path(bundle_id: int) -> str:
    """Relative to PDF_DIR."""
    return f"{FOLDER}/bundle-{bundle_id}.zip"


def _part(staging: Path, index: int, evaluation_id: int) -> Path:
    return staging / f"{index:05d}-{evaluation_id}.pdf"


# --- what the page reads -------------------------------------------------------------------


def latest(cycle_id: int) -> PublicBundle | None:
    return db.session.scalar(
        select(PublicBundle)
        .where(PublicBundle.cycle_id == cycle_id)
        .order_by(PublicBundle.id.desc())
        .limit(1)
    )


def downloadable(cycle_id: int) -> PublicBundle | None:
    """The newest bundle of the cycle whose file is there."""
    found = db.session.scalar(
        select(PublicBundle)
        .where(
            PublicBundle.cycle_id == cycle_id,
            PublicBundle.state == "ready",
            PublicBundle.path.is_not(None),
        )
        .order_by(PublicBundle.id.desc())
        .limit(1)
    )
    if found is None or not (pdf_dir() / str(found.path)).is_file():
        return None
    return found


def percent(found: PublicBundle) -> int:
    if found.state == "ready":
        return 100
    return int(found.done * 100 / found.total) if found.total else 0


def file_for(user: Actor, bundle_id: int) -> tuple[PublicBundle, Path]:
    if not policy.can_manage_rechecks(user):
        raise NotFound("未找到该公开包")
    found = db.session.get(PublicBundle, bundle_id)
    if found is None or found.state != "ready" or found.path is None:
        raise NotFound("未找到该公开包")
    path = pdf_dir() / found.path
    if not path.is_file():
        raise NotFound("该公开包的文件已被新生成的公开包取代，请下载最新的公开包")
    return found, path


# --- the request ---------------------------------------------------------------------------


def _active(cycle_id: int) -> PublicBundle | None:
    return db.session.scalar(
        select(PublicBundle).where(
            PublicBundle.cycle_id == cycle_id, PublicBundle.state.in_(ACTIVE_STATES)
        )
    )


def request_bundle(user: Actor, cycle_id: int) -> tuple[PublicBundle, list[int]]:
    """Queue a build of the cycle's bundle, or return the one already queued or building
    (then with no outbox ids: nothing new to hand out)."""
    begin_write()
    if not policy.can_manage_rechecks(user):
        raise Forbidden("您无权执行此操作")
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("未找到该评价任务")
    running = _active(cycle_id)
    if running is not None:
        db.session.rollback()
        return running, []
    confirmed = select(Evaluation.id).where(
        Evaluation.cycle_id == cycle_id, Evaluation.state == "confirmed"
    )
    if db.session.scalar(confirmed.limit(1)) is None:
        raise ValidationFailed("该评价任务还没有已确认的自评表，不能生成公开包")
    found = PublicBundle(cycle_id=cycle_id, requested_by_id=user.id, state="queued")
    db.session.add(found)
    db.session.flush()
    message = new_message("public_bundle", {"bundle_id": found.id})
    db.session.add(message)
    db.session.add(
        AuditLog(
            evaluation_id=None,
            actor_id=user.id,
            actor_name=user.name,
            role=user.role,
            org_id=user.org_id,
            org_name=user.org.name if user.org else "",
            event="public_bundle_request",
            reason=f"申请生成公开包：{cycle.name}",
            scores={"bundle_id": found.id, "cycle_id": cycle_id},
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        # Another request of the same cycle committed first: that build is the one.
        db.session.rollback()
        running = _active(cycle_id)
        if running is None:
            raise
        return running, []
    return found, [message.id]


# --- the worker ----------------------------------------------------------------------------


@dataclass
class Outcome:
    claimed: bool
    finished: bool
    rendered: int


def _claim(bundle_id: int) -> bool:
    begin_write()
    now = utcnow()
    taken = db.session.execute(
        update(PublicBundle)
        .where(
            PublicBundle.id == bundle_id,
            PublicBundle.state.in_(ACTIVE_STATES),
            or_(PublicBundle.claimed_at.is_(None), PublicBundle.claimed_at < now - CLAIM_STALE),
        )
        .values(state="building", claimed_at=now)
    ).rowcount
    db.session.commit()
    return bool(taken)


def is_active(bundle_id: int) -> bool:
    state = db.session.scalar(select(PublicBundle.state).where(PublicBundle.id == bundle_id))
    db.session.rollback()
    return state in ACTIVE_STATES


def run_bundle(
    bundle_id: int, *, budget_seconds: float | None = None, outbox_id: int | None = None
) -> Outcome:
    """Work on the build for at most ``budget_seconds`` (at least one form; None: to the
    end). Never raises: a failure marks the bundle failed."""
    if not _claim(bundle_id):
        return Outcome(claimed=False, finished=False, rendered=0)
    try:
        return _work(bundle_id, budget_seconds, outbox_id)
    except Exception as exc:  # noqa: BLE001 - the page shows the failure; the user asks again
        log.exception("public bundle %s failed", bundle_id)
        db.session.rollback()
        _fail(bundle_id, exc)
        return Outcome(claimed=True, finished=True, rendered=0)


def _start(bundle_id: int) -> tuple[int, list[int]]:
    """The snapshot of the confirmed evaluations, taken once (a continuation keeps it)."""
    found = db.session.get(PublicBundle, bundle_id)
    assert found is not None
    if found.evaluation_ids is not None:
        ids = list(found.evaluation_ids)
        cycle_id = found.cycle_id
        db.session.rollback()
        return cycle_id, ids
    ids = bundle.snapshot(found.cycle_id)
    begin_write()
    db.session.execute(
        update(PublicBundle)
        .where(PublicBundle.id == bundle_id)
        .values(evaluation_ids=ids, total=len(ids), done=0, started_at=utcnow())
    )
    cycle_id = found.cycle_id
    db.session.commit()
    return cycle_id, ids


def _work(bundle_id: int, budget_seconds: float | None, outbox_id: int | None) -> Outcome:
    from workflow.documents.operations import atomic_write

    cycle_id, ids = _start(bundle_id)
    scrub = bundle.cycle_scrubber(cycle_id)
    staging = staging_dir(bundle_id)
    started = time.monotonic()
    rendered = 0
    done = int(db.session.scalar(select(PublicBundle.done).where(PublicBundle.id == bundle_id)))
    while done < len(ids):
        if budget_seconds is not None and rendered and time.monotonic() - started > budget_seconds:
            _release(bundle_id)
            return Outcome(claimed=True, finished=False, rendered=rendered)
        evaluation = db.session.get(Evaluation, ids[done])
        # Reopened since the snapshot: no longer public, left out.
        if evaluation is not None and evaluation.state == "confirmed":
            atomic_write(_part(staging, done, ids[done]), bundle.public_pdf(evaluation, scrub))
        # The write transaction starts after the slow render (never hold SQLite's lock).
        db.session.rollback()
        begin_write()
        db.session.execute(
            update(PublicBundle)
            .where(PublicBundle.id == bundle_id, PublicBundle.done == done)
            .values(done=done + 1, claimed_at=utcnow())
        )
        touch(outbox_id)
        db.session.commit()
        done += 1
        rendered += 1
    _finish(bundle_id, cycle_id, ids, scrub)
    return Outcome(claimed=True, finished=True, rendered=rendered)


def _finish(bundle_id: int, cycle_id: int, ids: list[int], scrub: bundle.Scrub) -> None:
    staging = staging_dir(bundle_id)
    parts = [
        (ev_id, _part(staging, n, ev_id))
        for n, ev_id in enumerate(ids)
        if _part(staging, n, ev_id).is_file()
    ]
    cycle = db.session.get(Cycle, cycle_id)
    assert cycle is not None
    relative = zip_path(bundle_id)
    size = bundle.write_zip(cycle, parts, pdf_dir() / relative, scrub)
    db.session.rollback()
    begin_write()
    older = db.session.scalars(
        select(PublicBundle).where(
            PublicBundle.cycle_id == cycle_id,
            PublicBundle.id != bundle_id,
            PublicBundle.path.is_not(None),
        )
    ).all()
    for previous in older:
        (pdf_dir() / str(previous.path)).unlink(missing_ok=True)
        previous.path = None
    db.session.execute(
        update(PublicBundle)
        .where(PublicBundle.id == bundle_id)
        .values(
            state="ready",
            path=relative,
            size=size,
            forms=len(parts),
            finished_at=utcnow(),
            claimed_at=None,
            error=None,
        )
    )
    db.session.commit()
    shutil.rmtree(staging, ignore_errors=True)
    log.info("public bundle %s ready: %d forms, %d KB", bundle_id, len(parts), size // 1024)


def _release(bundle_id: int) -> None:
    begin_write()
    db.session.execute(
        update(PublicBundle).where(PublicBundle.id == bundle_id).values(claimed_at=None)
    )
    db.session.commit()


def _fail(bundle_id: int, exc: Exception) -> None:
    begin_write()
    db.session.execute(
        update(PublicBundle)
        .where(PublicBundle.id == bundle_id)
        .values(
            state="failed",
            error=f"生成公开包时出错（{type(exc).__name__}）",
            finished_at=utcnow(),
            claimed_at=None,
        )
    )
    db.session.commit()
    shutil.rmtree(staging_dir(bundle_id), ignore_errors=True)


def run_queued() -> list[int]:
    """Build every queued or abandoned bundle in this process, to the end (`flask rechecks
    public-bundle --queued`, for a machine without a PDF worker); the ids built."""
    from workflow.core.outbox import mark_done_now
    from workflow.models import OutboxMessage

    waiting = db.session.scalars(
        select(PublicBundle.id).where(PublicBundle.state.in_(ACTIVE_STATES))
    ).all()
    db.session.rollback()
    built = [bundle_id for bundle_id in waiting if run_bundle(bundle_id).finished]
    rows = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(
            OutboxMessage.kind == "public_bundle", OutboxMessage.done_at.is_(None)
        )
    ).all()
    db.session.rollback()
    for message_id, payload in rows:
        if int((payload or {}).get("bundle_id", 0)) in built:
            mark_done_now(message_id)
    return built
