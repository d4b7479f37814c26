"""The bulk import's upload: which cycle (or none: read and score only) and the files."""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.datastructures import FileStorage

from workflow.bulk.sources import FORM_SUFFIXES, SourceError, SourceFile, expand_upload

ACCEPT = ",".join(sorted(FORM_SUFFIXES | {".zip"}))


def parse_cycle_id(raw: str | None) -> int | None:
    """The chosen cycle's id; None for "read and score only" (an empty or bad value)."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def parse_uploads(uploads: Iterable[FileStorage]) -> list[SourceFile]:
    """The uploaded files, ZIPs of forms opened; raises SourceError for a damaged ZIP."""
    files: list[SourceFile] = []
    for upload in uploads:
        name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name:
            continue
        data = upload.read()
        if not data:
            raise SourceError(f"{name} 是空文件")
        files.extend(expand_upload(name, data))
    return files
