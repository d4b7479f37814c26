"""Bulk imports of published forms (issue 12 §4): one row per import, one per file.

A file's bytes are kept until a worker has read it (the web upload hands the work to the
``bulk`` queue), then dropped: what stays is its name, its SHA-256 and the report rows of
its forms. A file stored into a cycle carries ``stored_cycle_id``; the unique (cycle,
hash) pair is what makes the same file, uploaded twice, stored once, even when two imports
run at the same time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db
from workflow.models.cycle import Cycle
from workflow.models.user import User, utcnow

BULK_STATUSES = ("queued", "running", "done")
BULK_STATUS_LABELS = {"queued": "排队中", "running": "正在导入", "done": "已完成"}


class BulkImport(db.Model):  # type: ignore[name-defined]
    __tablename__ = "bulk_imports"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done')", name="status"),
        CheckConstraint("source IN ('web', 'cli')", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    actor_name: Mapped[str] = mapped_column(String(100))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"))
    source: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    # Set by the worker that holds the import; a claim older than a few minutes is free.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    created_by: Mapped[User | None] = relationship()
    cycle: Mapped[Cycle | None] = relationship()
    files: Mapped[list[BulkImportFile]] = relationship(
        back_populates="bulk_import", order_by="BulkImportFile.position"
    )

    @property
    def status_label(self) -> str:
        return BULK_STATUS_LABELS.get(self.status, self.status)


class BulkImportFile(db.Model):  # type: ignore[name-defined]
    __tablename__ = "bulk_import_files"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done')", name="status"),
        UniqueConstraint("stored_cycle_id", "sha256", name="uq_bulk_import_files_stored"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bulk_import_id: Mapped[int] = mapped_column(
        ForeignKey("bulk_imports.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    stored_cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("cycles.id", ondelete="RESTRICT")
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulk_import_files.id", ondelete="SET NULL")
    )
    # The report rows of the file's forms (workflow/bulk/report.py), one per form.
    rows: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    bulk_import: Mapped[BulkImport] = relationship(back_populates="files")
