"""What the pages read of the stored PDFs: where they are, the latest per evaluation."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import func

from workflow.core.extensions import db
from workflow.machine import State
from workflow.models import Evaluation, PdfFile


def pdf_dir() -> Path:
    return Path(current_app.config["PDF_DIR"])


def relative_path(evaluation_id: int, version: int) -> str:
    return f"{evaluation_id}/v{version}.pdf"


def pdf_path(row: PdfFile) -> Path:
    return pdf_dir() / row.path


def latest_pdf(evaluation_id: int) -> PdfFile | None:
    """The newest stored PDF of an evaluation whose file exists (for the download link)."""
    rows = db.session.execute(
        db.select(PdfFile).filter_by(evaluation_id=evaluation_id).order_by(PdfFile.version.desc())
    ).scalars()
    for row in rows:
        if pdf_path(row).is_file():
            return row
    return None


def latest_pdfs(*, department_id: int | None = None, cycle_id: int | None = None) -> list[PdfFile]:
    """The newest PDF of every evaluation of a department and/or a cycle (for the ZIP).

    The caller checks that the user may see that department or cycle. A form back in draft
    (withdrawn, returned) has no PDF in force: its last one shows what is no longer so.
    """
    newest = (
        db.select(PdfFile.evaluation_id, func.max(PdfFile.version).label("version"))
        .join(Evaluation, Evaluation.id == PdfFile.evaluation_id)
        .where(Evaluation.state != State.DRAFT.value)
        .group_by(PdfFile.evaluation_id)
    )
    if department_id is not None:
        newest = newest.where(Evaluation.department_id == department_id)
    if cycle_id is not None:
        newest = newest.where(Evaluation.cycle_id == cycle_id)
    sub = newest.subquery()
    rows = db.session.execute(
        db.select(PdfFile)
        .join(
            sub,
            (PdfFile.evaluation_id == sub.c.evaluation_id) & (PdfFile.version == sub.c.version),
        )
        .order_by(PdfFile.evaluation_id)
    ).scalars()
    return [row for row in rows if pdf_path(row).is_file()]
