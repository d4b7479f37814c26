"""The unit's answer to an evidence request, with files.

The files take the evaluation's evidence path (workflow/evaluations/evidence.py: type by
extension and first bytes, EVIDENCE_MAX_MB each, ClamAV, a generated name under
EVIDENCE_DIR), within a quota per re-check item (EVIDENCE_MAX_FILES files and
EVIDENCE_QUOTA_MB in all). They are stored before the write transaction (the scan takes
time) and attached to the request the answer closes, in the answer's commit, with an audit
row naming each file; a refused answer (a bad file, an empty text, a race) leaves none on
disk. Only the item's re-checker, finance and the unit itself may download them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from workflow import policy
from workflow.core.extensions import db
from workflow.evaluations.evidence import StoredFile, Upload, store_file
from workflow.evaluations.operations import NotFound, OperationError
from workflow.machine import RecheckEvent, Scope
from workflow.models import Actor, AnswerFile, AuditLog, EvidenceRequest, RecheckItem
from workflow.rechecks import operations

__all__ = ["Upload", "answer", "file_for"]


def _store(item: RecheckItem, uploads: Sequence[Upload]) -> list[StoredFile]:
    max_files = int(current_app.config["EVIDENCE_MAX_FILES"])
    quota = int(current_app.config["EVIDENCE_QUOTA_BYTES"])
    count, used = db.session.execute(
        select(func.count(), func.coalesce(func.sum(AnswerFile.size), 0)).where(
            AnswerFile.item_id == item.id
        )
    ).one()
    if count + len(uploads) > max_files:
        raise OperationError(
            f"补充材料最多 {max_files} 个文件（已上传 {count} 个），本次选择了 {len(uploads)} 个，"
            "请合并或减少文件后重新提交。"
        )
    room = quota - int(used)
    message = f"补充材料合计不能超过 {quota / (1024 * 1024):g} MB，请压缩或减少文件后重新提交。"
    stored: list[StoredFile] = []
    try:
        for upload in uploads:
            done = store_file(upload, room=room, room_message=message)
            room -= done.size
            stored.append(done)
    except BaseException:
        for done in stored:
            done.remove()
        raise
    return stored


def answer(
    user: Actor,
    item_id: int,
    text: str,
    uploads: Sequence[Upload],
    *,
    expected_version: int | None,
    request_id: int | None,
) -> RecheckItem:
    """Answer the open request of this item (the unit), with these files."""
    item = operations.load_for_event(user, item_id)
    if Scope.OWN_UNIT not in policy.recheck_scopes_for(user, item):
        raise NotFound("未找到该复核事项")
    if not text.strip():
        # The machine says so too; said here before any file is scanned and stored.
        raise OperationError("必须填写内容：请写明补充材料的名称、内容和存放位置")
    stored = _store(item, [u for u in uploads if u.filename])
    db.session.rollback()

    def attach(req: EvidenceRequest) -> None:
        for done in stored:
            req.files.append(
                AnswerFile(
                    item_id=req.item_id,
                    original_name=done.original_name,
                    stored_name=done.stored_name,
                    content_type=done.content_type,
                    size=done.size,
                    sha256=done.sha256,
                    uploaded_by_id=user.id,
                )
            )
        if stored:
            _audit(user, req, stored)

    try:
        return operations.fire(
            user,
            item_id,
            RecheckEvent.ANSWER,
            reason=text,
            expected_version=expected_version,
            request_id=request_id,
            on_close=attach,
        )
    except BaseException:
        for done in stored:
            done.remove()
        raise


def _audit(user: Actor, req: EvidenceRequest, stored: list[StoredFile]) -> None:
    item = req.item
    db.session.add(
        AuditLog(
            evaluation_id=item.evaluation_id,
            actor_id=user.id,
            actor_name=user.name,
            role=user.role,
            org_id=user.org_id,
            org_name=user.org.name if user.org else "",
            event="recheck_answer_files",
            version=item.version,
            # The evaluation's history shows the reason to its department too: the names
            # stay in the row's data, seen by the audit administrator.
            reason=f"上传补充材料 {len(stored)} 个文件",
            scores={
                "recheck_item_id": item.id,
                "request_id": req.id,
                "files": [
                    {"name": f.original_name, "sha256": f.sha256, "size": f.size} for f in stored
                ],
            },
        )
    )


def file_for(user: Actor, item_id: int, file_id: int) -> tuple[AnswerFile, Path]:
    """A file of an answer, for the item's re-checker, finance and the unit; else 404."""
    item = db.session.get(RecheckItem, item_id)
    found = db.session.get(AnswerFile, file_id)
    if (
        item is None
        or found is None
        or found.item_id != item.id
        or not policy.can_see_recheck_answers(user, item)
    ):
        raise NotFound("未找到该文件")
    path = Path(current_app.config["EVIDENCE_DIR"]) / found.stored_name
    if not path.is_file():
        raise NotFound("未找到该文件")
    return found, path
