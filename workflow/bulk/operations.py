"""Bulk import of published forms: create an import (its files, and an outbox row when a
worker is to run it), and run it, one file per transaction.

Running an import claims it (``claimed_at``), so that a second hand-out of its outbox row
(the relay's, or a continuation) does nothing while a worker holds it; a worker that died
leaves a claim that goes stale after CLAIM_STALE and is taken over. Each file is read,
scored and, with a cycle, each of its forms stored as its project's approved targets and a
draft evaluation (workflow.admin.operations.import_form_draft, the single-form import's
path, with its audit rows) in a savepoint of its own: a form that does not fit the cycle's
framework is reported and the file's other forms are kept. The file's report rows, its
audit event and the import's progress are committed together, so a run stopped at any
point resumes at the first file not done, and no file is stored twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

import scoring
from scoring.importers.compare import check_form
from workflow import policy
from workflow.bulk import report
from workflow.bulk.sources import SourceFile
from workflow.core.audit import record_security_event
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import (
    Actor,
    BulkImport,
    BulkImportFile,
    Cycle,
    Org,
    OrgKind,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

CLI_ACTOR = "命令行导入"
CLAIM_STALE = timedelta(minutes=5)
MAX_FILES = 5000


class BulkError(Exception):
    """A refused bulk import, with a Chinese message and the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- creating ----------------------------------------------------------------------------------


def create_bulk_import(
    files: Sequence[SourceFile],
    *,
    user: Actor | None,
    cycle: Cycle | None,
    source: str,
    enqueue: bool,
    actor_name: str | None = None,
) -> tuple[BulkImport, list[int]]:
    """A new import of these files (no work done yet), committed; with ``enqueue``, an outbox
    row hands it to the bulk worker. Returns the import and the outbox ids to dispatch."""
    begin_write()
    if user is not None and not policy.can_bulk_import(user):
        raise BulkError("只有财政或系统管理员可以批量导入自评表", 404)
    if not files:
        raise BulkError("请选择至少一个文件（自评表文件、文件夹或 ZIP 压缩包）")
    if len(files) > MAX_FILES:
        raise BulkError(f"一次最多导入 {MAX_FILES} 个文件，本次有 {len(files)} 个")
    if cycle is not None and cycle.framework is None:
        raise BulkError("该评价任务没有评价框架，不能保存导入的自评表")
    bulk = BulkImport(
        created_by_id=user.id if user is not None else None,
        actor_name=(user.name if user is not None else actor_name or CLI_ACTOR)[:100],
        cycle_id=cycle.id if cycle is not None else None,
        source=source,
        status="queued",
        total=len(files),
        processed=0,
    )
    db.session.add(bulk)
    db.session.flush()
    for position, item in enumerate(files):
        db.session.add(
            BulkImportFile(
                bulk_import_id=bulk.id,
                position=position,
                name=item.name[:500],
                sha256=hashlib.sha256(item.data).hexdigest(),
                size=len(item.data),
                content=item.data,
                status="pending",
            )
        )
    record_security_event(
        "admin_action",
        user=user,
        username=None if user is not None else bulk.actor_name,
        outcome="success",
        object=f"bulk_import:{bulk.id}",
        detail={
            "action": "bulk_import_queued",
            "files": len(files),
            "cycle_id": bulk.cycle_id,
            "names": [f.name for f in files[:50]],
        },
    )
    outbox_ids: list[int] = []
    if enqueue:
        from workflow.core.outbox import new_message

        message = new_message("bulk_import", {"bulk_import_id": bulk.id})
        db.session.add(message)
        db.session.flush()
        outbox_ids.append(message.id)
    db.session.commit()
    return bulk, outbox_ids


# --- running -----------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    claimed: bool
    finished: bool
    processed: int


def _claim(bulk_id: int) -> bool:
    begin_write()
    now = utcnow()
    taken = db.session.execute(
        update(BulkImport)
        .where(
            BulkImport.id == bulk_id,
            BulkImport.status != "done",
            or_(BulkImport.claimed_at.is_(None), BulkImport.claimed_at < now - CLAIM_STALE),
        )
        .values(claimed_at=now, status="running")
    ).rowcount
    db.session.commit()
    return bool(taken)


def _release(bulk_id: int) -> None:
    begin_write()
    db.session.execute(update(BulkImport).where(BulkImport.id == bulk_id).values(claimed_at=None))
    db.session.commit()


def run_bulk_import(
    bulk_id: int,
    *,
    progress: Callable[[BulkImportFile], None] | None = None,
    budget_seconds: float | None = None,
) -> RunOutcome:
    """Work through the import's pending files; stop after ``budget_seconds`` (the caller
    continues later) or when all are done. Never raises for a bad file."""
    if not _claim(bulk_id):
        return RunOutcome(claimed=False, finished=False, processed=0)
    started = time.monotonic()
    done = 0
    context = _Context.load(bulk_id)
    while True:
        file_id = db.session.scalar(
            select(BulkImportFile.id)
            .where(BulkImportFile.bulk_import_id == bulk_id, BulkImportFile.status == "pending")
            .order_by(BulkImportFile.position)
            .limit(1)
        )
        if file_id is None:
            break
        # At least one file per run, so that a continuation always makes progress.
        if budget_seconds is not None and done and time.monotonic() - started > budget_seconds:
            db.session.rollback()
            _release(bulk_id)
            return RunOutcome(claimed=True, finished=False, processed=done)
        try:
            file = process_file(context, file_id)
        except Exception as exc:  # noqa: BLE001 - one file never stops (nor loops) an import
            log.exception("bulk import %s: file %s failed", bulk_id, file_id)
            db.session.rollback()
            file = _mark_failed(context, file_id, exc)
        done += 1
        if progress is not None:
            progress(file)
    begin_write()
    db.session.execute(
        update(BulkImport)
        .where(BulkImport.id == bulk_id)
        .values(status="done", finished_at=utcnow(), claimed_at=None)
    )
    db.session.commit()
    return RunOutcome(claimed=True, finished=True, processed=done)


@dataclass
class _Context:
    bulk_id: int
    cycle_id: int | None
    actor_id: int | None
    actor_name: str
    units: list[tuple[str, int, str]]

    @classmethod
    def load(cls, bulk_id: int) -> _Context:
        bulk = db.session.get(BulkImport, bulk_id)
        assert bulk is not None
        units = [
            (normalise_name(org.name), org.id, org.name)
            for org in db.session.scalars(select(Org).where(Org.kind == OrgKind.UNIT.value))
        ]
        context = cls(bulk.id, bulk.cycle_id, bulk.created_by_id, bulk.actor_name, units)
        db.session.rollback()
        return context


_NOISE = re.compile(r"[\s　:：,，.。·•\-—_()（）\[\]【】「」\"'“”]")


def normalise_name(name: str) -> str:
    return _NOISE.sub("", name or "").lower()


def match_unit(name: str, units: Sequence[tuple[str, int, str]]) -> int | None:
    """The unit a form's 填报单位 / 实施单位 names: the same name once spaces, brackets and
    punctuation are set aside; failing that, the one unit whose name holds the form's (or
    is held by it). None when no unit or several fit."""
    key = normalise_name(name)
    if not key:
        return None
    exact = [uid for norm, uid, _ in units if norm == key]
    if len(exact) == 1:
        return exact[0]
    if exact:
        return None
    near = [uid for norm, uid, _ in units if len(norm) >= 4 and (key in norm or norm in key)]
    return near[0] if len(near) == 1 else None


def _read(name: str, data: bytes) -> list[scoring.ImportResult]:
    return scoring.import_forms(Path(name).name or "form.txt", data=data)


def _duplicate_of(file: BulkImportFile, cycle_id: int | None) -> BulkImportFile | None:
    """An earlier file with the same bytes: stored into this cycle by any import, or read
    earlier in this import."""
    conditions = [BulkImportFile.bulk_import_id == file.bulk_import_id]
    if cycle_id is not None:
        conditions.append(BulkImportFile.stored_cycle_id == cycle_id)
    return db.session.scalar(
        select(BulkImportFile)
        .where(
            BulkImportFile.sha256 == file.sha256,
            BulkImportFile.id != file.id,
            BulkImportFile.status == "done",
            BulkImportFile.duplicate_of_id.is_(None),
            or_(*conditions),
        )
        .order_by(BulkImportFile.id)
        .limit(1)
    )


def _duplicate_rows(file: BulkImportFile, original: BulkImportFile) -> list[dict[str, Any]]:
    where = (
        "本次导入"
        if original.bulk_import_id == file.bulk_import_id
        else f"第 {original.bulk_import_id} 次批量导入"
    )
    rows = []
    for row in original.rows or [report.unread_row(original.name, "")]:
        copy = dict(row, file=file.name, evaluation_id=None, unmatched=False)
        copy["stored"] = f"重复文件：与{where}的“{original.name}”内容相同（SHA-256），未重复保存"
        copy["duplicate_of"] = original.name
        rows.append(copy)
    return rows


def _store_form(
    context: _Context, cycle: Cycle, actor: User | None, result: scoring.ImportResult,
    row: dict[str, Any], file: BulkImportFile,
) -> bool:  # fmt: skip
    """Store one form into the cycle when its unit matches; fill the row's import columns."""
    from workflow.admin import operations as admin_ops

    unit_id = match_unit(str(row.get("unit") or ""), context.units)
    if unit_id is None:
        row["unmatched"] = True
        named = row.get("unit") or "表中没有填报单位/实施单位"
        row["stored"] = f"未保存：找不到对应的预算单位（{named}）"
        return False
    unit = db.session.get(Org, unit_id)
    assert unit is not None
    row["matched_unit"] = unit.name
    stem = Path(file.name).stem
    label = stem if (result.form_count or 1) == 1 else f"{stem}（第{result.form_index + 1}张）"
    try:
        with db.session.begin_nested():
            # A change in the session, so that import_form_draft's begin_write() carries on in
            # this transaction instead of starting a new one.
            file.rows = []
            evaluation = admin_ops.import_form_draft(
                result, cycle=cycle, unit=unit, fallback_name=label, actor=actor
            )
            db.session.flush()
    except admin_ops.AdminError as exc:
        row["stored"] = f"未保存：{exc.message}"
        return False
    except Exception as exc:  # noqa: BLE001 - this form is reported, the others go on
        log.exception("bulk import %s: storing a form of %s failed", context.bulk_id, file.name)
        row["stored"] = f"未保存：保存时出错（{type(exc).__name__}）"
        return False
    row["evaluation_id"] = evaluation.id
    row["stored"] = f"已保存为评价表 #{evaluation.id}（草稿）"
    return True


def process_file(context: _Context, file_id: int) -> BulkImportFile:
    """Read, score and (with a cycle) store one file, in one transaction."""
    begin_write()
    file = db.session.get(BulkImportFile, file_id)
    assert file is not None
    cycle = db.session.get(Cycle, context.cycle_id) if context.cycle_id is not None else None
    actor = db.session.get(User, context.actor_id) if context.actor_id is not None else None
    original = _duplicate_of(file, context.cycle_id)
    stored = False
    if original is not None:
        rows = _duplicate_rows(file, original)
        file.duplicate_of_id = original.id
    else:
        rows = []
        try:
            results = _read(file.name, file.content or b"")
        except scoring.FormReadError as exc:
            rows.append(report.unread_row(file.name, exc.message))
            results = []
        except Exception as exc:  # noqa: BLE001 - one strange file must not stop the import
            rows.append(report.unread_row(file.name, f"读取时出错（{type(exc).__name__}）"))
            results = []
        for result in results:
            try:
                check = check_form(result)
            except Exception as exc:  # noqa: BLE001 - reported, the other forms go on
                row = report.unread_row(file.name, f"计分时出错（{type(exc).__name__}）")
                rows.append(row)
                continue
            row = report.form_row(file.name, result, check)
            if cycle is not None:
                stored = _store_form(context, cycle, actor, result, row, file) or stored
            rows.append(row)
    file.rows = rows
    file.status = "done"
    file.content = None
    if stored:
        file.stored_cycle_id = context.cycle_id
    record_security_event(
        "admin_action",
        user=actor,
        username=None if actor is not None else context.actor_name,
        outcome="success",
        object=f"bulk_import:{context.bulk_id}",
        detail={
            "action": "bulk_import_file",
            "file": file.name,
            "sha256": file.sha256,
            "forms": len(rows),
            "evaluations": [r["evaluation_id"] for r in rows if r.get("evaluation_id")],
        },
    )
    db.session.execute(
        update(BulkImport)
        .where(BulkImport.id == context.bulk_id)
        .values(processed=BulkImport.processed + 1, claimed_at=utcnow())
    )
    try:
        db.session.commit()
    except IntegrityError:
        # The same bytes were stored into this cycle by another import at the same moment.
        db.session.rollback()
        return _mark_duplicate_late(context, file_id)
    return file


def _mark_duplicate_late(context: _Context, file_id: int) -> BulkImportFile:
    begin_write()
    file = db.session.get(BulkImportFile, file_id)
    assert file is not None
    original = _duplicate_of(file, context.cycle_id)
    rows = _duplicate_rows(file, original) if original is not None else []
    file.rows, file.status, file.content = rows, "done", None
    file.duplicate_of_id = original.id if original is not None else None
    db.session.execute(
        update(BulkImport)
        .where(BulkImport.id == context.bulk_id)
        .values(processed=BulkImport.processed + 1, claimed_at=utcnow())
    )
    db.session.commit()
    return file


def _mark_failed(context: _Context, file_id: int, exc: Exception) -> BulkImportFile:
    """A file whose processing failed unexpectedly: done, with one row saying so."""
    begin_write()
    file = db.session.get(BulkImportFile, file_id)
    assert file is not None
    file.rows = [
        report.unread_row(file.name, f"处理时出错（{type(exc).__name__}），请单独检查该文件")
    ]
    file.status, file.content = "done", None
    db.session.execute(
        update(BulkImport)
        .where(BulkImport.id == context.bulk_id)
        .values(processed=BulkImport.processed + 1, claimed_at=utcnow())
    )
    db.session.commit()
    return file
