"""The department's or finance's ZIP of a cycle's 自评表 sheets, built by the bulk worker: a
job of workflow/core/jobs.py (claim, pieces, progress, file), like the public bundle.

- `request_zip` (the POST of /workbooks/): a `sheets_zips` row (queued) of the requester's
  scope (a reviewer: its department's units; finance and the system administrator: every
  unit), an audit row and an outbox row, one commit; nothing is written in the request. While
  a ZIP of the user is queued or building, a second request returns that one.
- The worker (`jobs.run` with `KIND`, the task in workflow/workbooks/tasks.py): snapshots the
  evaluations the requester may see on its first run, writes each sheet (sealed as the
  single download seals it, so that an upload of it matches) into a staging folder under
  VAR_DIR/zips, one commit of progress per sheet, in time-boxed pieces; then the ZIP (sheets
  stored, not deflated again), ready. The user's previous ZIP file is removed.
- `file_for`: the file is the requester's alone, and only while the scope it was built for
  is still theirs: another department, or another finance user, gets 404.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from workflow import policy
from workflow.core import jobs
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.evaluations.operations import Forbidden, NotFound, ValidationFailed
from workflow.machine import Role
from workflow.models import Actor, AuditLog, Cycle, Evaluation, SheetsZip, User
from workflow.workbooks import queries

FOLDER = "zips"


def var_dir() -> Path:
    return Path(current_app.config["VAR_DIR"])


def may_zip(user: Any) -> bool:
    return policy.is_role(user, Role.REVIEWER, Role.FINANCE, Role.SYSADMIN)


def _scope(user: Actor) -> tuple[str, int | None] | None:
    """("all", None), ("department", its id), or None (no ZIP for this user)."""
    column, value = policy.visible_scope(user)
    if column == "all":
        return "all", None
    if column == "department_id":
        return "department", value
    return None


def _in_scope(job: SheetsZip, evaluation: Evaluation) -> bool:
    return job.scope == "all" or evaluation.department_id == job.department_id


# --- the job -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    user_id: int
    scope: str
    department_id: int | None


def _snapshot(job: SheetsZip) -> list[int]:
    user = db.session.get(User, job.requested_by_id)
    assert user is not None
    rows = queries.visible_evaluations(user, job.cycle_id)
    return [ev.id for ev in rows if _in_scope(job, ev)]


def _prepare(job: SheetsZip) -> Context:
    return Context(job.requested_by_id, job.scope, job.department_id)


def _part_glob(index: int, evaluation_id: int) -> str:
    return f"{index:05d}-{evaluation_id}-v*.xlsx"


def _piece(context: Context, index: int, evaluation_id: int, staging: Path) -> None:
    from workflow.documents.operations import atomic_write
    from workflow.workbooks.operations import workbook_of

    user = db.session.get(User, context.user_id)
    evaluation = db.session.get(Evaluation, evaluation_id)
    if user is None or evaluation is None or not policy.can_view(user, evaluation):
        return  # gone, or no longer the requester's to see: left out
    if context.scope == "department" and evaluation.department_id != context.department_id:
        return
    data = workbook_of(evaluation)
    atomic_write(staging / f"{index:05d}-{evaluation_id}-v{evaluation.version}.xlsx", data)


def _assemble(
    job: SheetsZip, _context: Context, ids: list[int], staging: Path, target: Path
) -> int:
    members: list[tuple[str, Path]] = []
    for index, evaluation_id in enumerate(ids):
        found = sorted(staging.glob(_part_glob(index, evaluation_id)))
        evaluation = db.session.get(Evaluation, evaluation_id)
        if not found or evaluation is None:
            continue
        version = int(found[-1].stem.rsplit("-v", 1)[1])
        members.append((queries.zip_member(evaluation, version), found[-1]))

    def fill(archive: zipfile.ZipFile) -> None:
        for name, path in members:
            archive.write(path, arcname=name)

    # .xlsx files are ZIPs already: stored, not deflated a second time.
    jobs.write_zip(target, fill, zipfile.ZIP_STORED)
    return len(members)


KIND = jobs.JobKind(
    model=SheetsZip,
    name="sheets zip",
    outbox_kind="sheets_zip",
    payload_key="zip_id",
    failure="生成自评表 ZIP 时出错",
    root=var_dir,
    folder=FOLDER,
    stem="sheets",
    snapshot=_snapshot,
    prepare=_prepare,
    piece=_piece,
    assemble=_assemble,
    # One file a user: a new ZIP replaces the requester's previous one.
    supersedes=lambda job: [SheetsZip.requested_by_id == job.requested_by_id],
)


# --- what the page reads -------------------------------------------------------------------


def latest(user: Actor) -> SheetsZip | None:
    found: SheetsZip | None = jobs.newest(KIND, SheetsZip.requested_by_id == user.id)
    return found


def downloadable(user: Actor) -> SheetsZip | None:
    found: SheetsZip | None = jobs.newest_ready(KIND, SheetsZip.requested_by_id == user.id)
    return found if found is not None and _still_theirs(user, found) else None


def _still_theirs(user: Actor, job: SheetsZip) -> bool:
    """The requester's, built for the scope the user has now (a reviewer moved to another
    department no longer gets the old one's sheets)."""
    if job.requested_by_id != user.id or not may_zip(user):
        return False
    scope = _scope(user)
    return scope is not None and scope == (job.scope, job.department_id)


def view(user: Actor) -> dict[str, object]:
    found = latest(user)
    return {
        "zip_job": found,
        "zip_ready": downloadable(user),
        "zip_percent": jobs.percent(found) if found else 0,
    }


def file_for(user: Actor, zip_id: int) -> tuple[SheetsZip, Path]:
    found = db.session.get(SheetsZip, zip_id)
    if found is None or not _still_theirs(user, found):
        raise NotFound("未找到该 ZIP 文件")
    path = jobs.file_of(KIND, found)
    if path is None:
        raise NotFound("该 ZIP 文件尚未生成，或已被您新生成的 ZIP 取代：请下载最新的 ZIP")
    return found, path


def download_name(found: SheetsZip) -> str:
    return f"绩效自评表Excel-{queries.safe_name(found.cycle.name)}-{found.forms}份.zip"


# --- the request ---------------------------------------------------------------------------


def _active(user_id: int) -> SheetsZip | None:
    found: SheetsZip | None = jobs.active(KIND, SheetsZip.requested_by_id == user_id)
    return found


def request_zip(user: Actor, cycle_id: int) -> tuple[SheetsZip, list[int]]:
    """Queue the ZIP of the cycle's sheets in the user's scope, or return the user's ZIP
    already queued or building (then with no outbox ids: nothing new to hand out)."""
    begin_write()
    scope = _scope(user) if may_zip(user) else None
    if scope is None:
        raise Forbidden("您无权执行此操作")
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("未找到该评价任务")
    running = _active(user.id)
    if running is not None:
        db.session.rollback()
        return running, []
    count = select(func.count()).select_from(Evaluation).where(Evaluation.cycle_id == cycle_id)
    if scope[0] == "department":
        count = count.where(Evaluation.department_id == scope[1])
    if not db.session.scalar(count):
        raise ValidationFailed("所选评价任务中没有您可查看的评价表")
    found = SheetsZip(
        cycle_id=cycle_id,
        scope=scope[0],
        department_id=scope[1],
        requested_by_id=user.id,
        state="queued",
    )

    def audit(job: Any) -> AuditLog:
        return AuditLog(
            evaluation_id=None,
            actor_id=user.id,
            actor_name=user.name,
            role=user.role,
            org_id=user.org_id,
            org_name=user.org.name if user.org else "",
            event="sheets_zip_request",
            reason=f"申请下载自评表 ZIP：{cycle.name}（{job.scope_label}）",
            scores={"zip_id": job.id, "cycle_id": cycle_id, "scope": job.scope},
        )

    return jobs.create(KIND, found, audit, lambda: _active(user.id))


def run_zip(
    zip_id: int, *, budget_seconds: float | None = None, outbox_id: int | None = None
) -> jobs.Outcome:
    return jobs.run(KIND, zip_id, budget_seconds=budget_seconds, outbox_id=outbox_id)
