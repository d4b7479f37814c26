"""佐证材料 (evidence files): checked, stored under a generated name, served through the policy.

The extension whitelist is backed by a look at the first bytes, so that a renamed
executable or HTML page is refused; the browser gets the stored content type with
``nosniff`` and as an attachment, never inline.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from sqlalchemy import func, select

from workflow import policy
from workflow.core import clamav
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.evaluations.operations import OperationError, load_for
from workflow.models import Actor, Evidence

# extension -> (content type, accepted leading bytes)
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"
TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "doc": ("application/msword", (OLE,)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (ZIP,)),
    "xls": ("application/vnd.ms-excel", (OLE,)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (ZIP,)),
}
ACCEPT = ",".join("." + ext for ext in TYPES)
CHUNK = 1024 * 1024


class EvidenceTooLarge(OperationError):
    status = 413


@dataclass(frozen=True)
class Upload:
    filename: str
    stream: IO[bytes]


def max_bytes() -> int:
    return int(current_app.config["EVIDENCE_MAX_BYTES"])


def limit_text() -> str:
    return f"{max_bytes() / (1024 * 1024):g} MB"


def _clean_name(name: str) -> str:
    # Keep the person's file name for display and download only; it never reaches the disk.
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())
    return base[-200:] or "file"


def _scan(path: Path) -> None:
    address = str(current_app.config.get("CLAMD_ADDRESS") or "")
    if not address:
        return
    try:
        found = clamav.scan_file(address, path)
    except clamav.ScannerUnavailable:
        raise OperationError("病毒扫描服务暂时不可用，文件未保存，请稍后重新上传。") from None
    if found:
        raise OperationError(
            f"文件含有病毒或恶意代码（{found}），已拒绝保存。请使用杀毒软件检查后重新上传。"
        )


@dataclass(frozen=True)
class StoredFile:
    """A checked, scanned file written under EVIDENCE_DIR; its row is the caller's."""

    original_name: str
    stored_name: str
    content_type: str
    size: int
    sha256: str
    path: Path

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def store_file(
    upload: Upload | None, *, room: int | None = None, room_message: str = ""
) -> StoredFile:
    """Check an upload (type by extension and first bytes, size, ClamAV) and write it under
    a generated name; the one path every uploaded evidence file takes (the evaluation's
    佐证材料, the files answering a re-check's request). ``room`` is what is left of the
    caller's quota, refused with ``room_message``. Nothing stays on disk when it refuses."""
    if upload is None or not upload.filename:
        raise OperationError("请选择要上传的文件")
    original = _clean_name(upload.filename)
    ext = original.rsplit(".", 1)[-1].lower() if "." in original else ""
    if ext not in TYPES:
        raise OperationError(
            f"“{original}”：只能上传 PDF、JPG、PNG、Word（doc/docx）或 Excel（xls/xlsx）文件"
        )
    content_type, magics = TYPES[ext]
    limit = max_bytes() if room is None else min(max_bytes(), max(room, 0))
    folder = Path(current_app.config["EVIDENCE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}.{ext}"
    target = folder / stored
    partial = folder / (stored + ".part")
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with partial.open("wb") as out:
            while True:
                chunk = upload.stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    if limit < max_bytes():
                        raise OperationError(room_message)
                    raise EvidenceTooLarge(
                        f"“{original}”：文件不能超过 {limit_text()}，请压缩后重新上传。"
                    )
                if len(head) < 16:
                    head += chunk[:16]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise OperationError(f"“{original}”：文件是空的")
        try:
            _scan(partial)
        except OperationError as exc:
            raise OperationError(f"“{original}”：{exc.message}") from None
        if not any(head.startswith(m) for m in magics):
            raise OperationError(f"“{original}”：文件内容与扩展名 .{ext} 不符")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return StoredFile(original, stored, content_type, size, digest.hexdigest(), target)


def add_evidence(user: Actor, evaluation_id: int, upload: Upload | None) -> Evidence:
    begin_write()
    evaluation = load_for(user, evaluation_id, policy.EDIT)
    if upload is None or not upload.filename:
        raise OperationError("请选择要上传的文件")
    # The quota per evaluation: how many files and how many bytes in all.
    count, used = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Evidence.size), 0)).where(
            Evidence.evaluation_id == evaluation.id
        )
    ).one()
    max_files = int(current_app.config["EVIDENCE_MAX_FILES"])
    quota = int(current_app.config["EVIDENCE_QUOTA_BYTES"])
    if count >= max_files:
        raise OperationError(f"每份自评表最多上传 {max_files} 个佐证材料，请先删除不需要的文件。")
    stored = store_file(
        upload,
        room=quota - int(used),
        room_message=f"本表佐证材料合计不能超过 {quota / (1024 * 1024):g} MB，"
        "剩余空间不足，请压缩或删除不需要的文件。",
    )
    evidence = Evidence(
        evaluation_id=evaluation.id,
        original_name=stored.original_name,
        stored_name=stored.stored_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=user.id,
    )
    db.session.add(evidence)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        stored.remove()
        raise
    return evidence


def evidence_for(user: Actor, evaluation_id: int, evidence_id: int) -> tuple[Evidence, Path]:
    """The file if the user may see the evaluation it belongs to; else NotFound (404)."""
    from workflow.evaluations.operations import NotFound

    load_for(user, evaluation_id)
    evidence = db.session.get(Evidence, evidence_id)
    if evidence is None or evidence.evaluation_id != evaluation_id:
        raise NotFound("未找到该文件")
    path = Path(current_app.config["EVIDENCE_DIR"]) / evidence.stored_name
    if not path.is_file():
        raise NotFound("未找到该文件")
    return evidence, path
