"""Rendered PDFs, one per (evaluation, version)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflow.core.extensions import db
from workflow.models.user import utcnow


class PdfFile(db.Model):  # type: ignore[name-defined]
    __tablename__ = "pdf_files"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "version", name="uq_pdf_files_evaluation_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(30))
    path: Mapped[str] = mapped_column(String(500))  # relative to PDF_DIR
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    render_seconds: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
