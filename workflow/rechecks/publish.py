"""The public bundle (公开包) as a request the PDF worker fulfils, a job of
workflow/core/jobs.py (which holds the claim, the pieces, the progress and the file).

- `request_bundle` (the finance user's POST): a `public_bundles` row (queued), an audit row
  and an outbox row, one commit; nothing is rendered in the request. While a build of the
  cycle is queued or building, a second request returns that one (a partial unique index
  settles two requests at the same moment).
- The worker (`jobs.run` with `KIND`): snapshots the cycle's confirmed evaluations on its
  first run, renders one public PDF after the other into a staging folder under PDF_DIR,
  one commit of progress per form, and stops after its time budget so that the task
  continues itself behind the PDFs queued meanwhile. When every form is rendered it writes
  the ZIP (the PDFs, the summary workbook, the note), marks the row ready and removes the
  file of the cycle's previous bundle. Any error marks it failed with a Chinese message;
  the finance user may ask again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from workflow import policy
from workflow.core import jobs
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.evaluations.operations import Forbidden, NotFound, ValidationFailed
from workflow.models import Actor, AuditLog, Cycle, Evaluation, PublicBundle
from workflow.rechecks import bundle

CLAIM_STALE = jobs.CLAIM_STALE
Outcome = jobs.Outcome
FOLDER = "public"


def pdf_dir() -> Path:
    return Path(current_app.config["PDF_DIR"])


def _part(staging: Path, index: int, evaluation_id: int) -> Path:
    return staging / f"{index:05d}-{evaluation_id}.pdf"


def _piece(scrub: bundle.Scrub, index: int, evaluation_id: int, staging: Path) -> None:
    from workflow.documents.operations import atomic_write

    evaluation = db.session.get(Evaluation, evaluation_id)
    # Reopened since the snapshot: no longer public, left out.
    if evaluation is not None and evaluation.state == "confirmed":
        atomic_write(_part(staging, index, evaluation_id), bundle.public_pdf(evaluation, scrub))


def _assemble(
    found: PublicBundle, scrub: bundle.Scrub, ids: list[int], staging: Path, target: Path
) -> int:
    parts = [
        (ev_id, _part(staging, n, ev_id))
        for n, ev_id in enumerate(ids)
        if _part(staging, n, ev_id).is_file()
    ]
    bundle.write_zip(found.cycle, parts, target, scrub)
    return len(parts)


KIND = jobs.JobKind(
    model=PublicBundle,
    name="public bundle",
    outbox_kind="public_bundle",
    payload_key="bundle_id",
    failure="生成公开包时出错",
    root=pdf_dir,
    folder=FOLDER,
    stem="bundle",
    snapshot=lambda found: bundle.snapshot(found.cycle_id),
    prepare=lambda found: bundle.cycle_scrubber(found.cycle_id),
    piece=_piece,
    assemble=_assemble,
    # A new bundle of the cycle replaces the file of the previous one.
    supersedes=lambda found: [PublicBundle.cycle_id == found.cycle_id],
)


def staging_dir(bundle_id: int) -> Path:
    return jobs.staging_dir(KIND, bundle_id)


def zip_path(bundle_id: int) -> str:
    """Relative to PDF_DIR."""
    return jobs.relative_file(KIND, bundle_id)


# --- what the page reads -------------------------------------------------------------------


def latest(cycle_id: int) -> PublicBundle | None:
    found: PublicBundle | None = jobs.newest(KIND, PublicBundle.cycle_id == cycle_id)
    return found


def downloadable(cycle_id: int) -> PublicBundle | None:
    """The newest bundle of the cycle whose file is there."""
    found: PublicBundle | None = jobs.newest_ready(KIND, PublicBundle.cycle_id == cycle_id)
    return found


def percent(found: PublicBundle) -> int:
    return jobs.percent(found)


def file_for(user: Actor, bundle_id: int) -> tuple[PublicBundle, Path]:
    if not policy.can_manage_rechecks(user):
        raise NotFound("未找到该公开包")
    found = db.session.get(PublicBundle, bundle_id)
    if found is None or found.state != "ready" or found.path is None:
        raise NotFound("未找到该公开包")
    path = jobs.file_of(KIND, found)
    if path is None:
        raise NotFound("该公开包的文件已被新生成的公开包取代，请下载最新的公开包")
    return found, path


# --- the request ---------------------------------------------------------------------------


def _active(cycle_id: int) -> PublicBundle | None:
    found: PublicBundle | None = jobs.active(KIND, PublicBundle.cycle_id == cycle_id)
    return found


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

    def audit(found: Any) -> AuditLog:
        return AuditLog(
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

    found = PublicBundle(cycle_id=cycle_id, requested_by_id=user.id, state="queued")
    return jobs.create(KIND, found, audit, lambda: _active(cycle_id))


# --- the worker ----------------------------------------------------------------------------


def run_bundle(
    bundle_id: int, *, budget_seconds: float | None = None, outbox_id: int | None = None
) -> jobs.Outcome:
    """Work on the build for at most ``budget_seconds`` (at least one form; None: to the
    end). Never raises: a failure marks the bundle failed."""
    return jobs.run(KIND, bundle_id, budget_seconds=budget_seconds, outbox_id=outbox_id)


def is_active(bundle_id: int) -> bool:
    return jobs.is_active(KIND, bundle_id)


def run_queued() -> list[int]:
    """Build every queued or abandoned bundle in this process, to the end (`flask rechecks
    public-bundle --queued`, for a machine without a PDF worker); the ids built."""
    return jobs.run_queued(KIND)
