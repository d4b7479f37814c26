"""What the bulk import's pages, the CLI and the report read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from workflow.core.extensions import db
from workflow.models import BulkImport, BulkImportFile

RECENT = 20


def recent_imports(limit: int = RECENT) -> list[BulkImport]:
    return list(db.session.scalars(select(BulkImport).order_by(BulkImport.id.desc()).limit(limit)))


def report_rows(bulk_id: int) -> list[dict[str, Any]]:
    """One row per form of the files done so far, in file order (files not done yet: none)."""
    rows: list[dict[str, Any]] = []
    for file_rows in db.session.scalars(
        select(BulkImportFile.rows)
        .where(BulkImportFile.bulk_import_id == bulk_id, BulkImportFile.status == "done")
        .order_by(BulkImportFile.position)
    ):
        rows.extend(file_rows or [])
    return rows


def summary(bulk: BulkImport, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The import's figures: files, forms read, stored, duplicates, unreadable, unmatched."""
    rows = report_rows(bulk.id) if rows is None else rows
    return {
        "id": bulk.id,
        "by": bulk.actor_name,
        "cycle": bulk.cycle.name if bulk.cycle is not None else None,
        "created_at": bulk.created_at.isoformat(timespec="seconds"),
        "finished_at": bulk.finished_at.isoformat(timespec="seconds") if bulk.finished_at else None,
        "status": bulk.status,
        "files": bulk.total,
        "files_done": bulk.processed,
        "forms": sum(1 for r in rows if r.get("ok") and not r.get("duplicate_of")),
        "unreadable": sum(1 for r in rows if not r.get("ok") and not r.get("duplicate_of")),
        "incomplete": sum(1 for r in rows if r.get("incomplete") and not r.get("duplicate_of")),
        "graded": sum(1 for r in rows if r.get("grade") and not r.get("duplicate_of")),
        "stored": sum(1 for r in rows if r.get("evaluation_id")),
        "duplicates": sum(1 for r in rows if r.get("duplicate_of")),
        "unmatched": sum(1 for r in rows if r.get("unmatched")),
    }


def percent(bulk: BulkImport) -> int:
    return 100 if bulk.total == 0 else int(bulk.processed * 100 / bulk.total)
