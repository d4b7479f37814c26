"""Storing the PDFs: one file per (evaluation, version) under PDF_DIR, written atomically,
with a PdfFile row; the department's zip of the latest PDFs."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.outbox import mark_done, mark_done_now
from workflow.documents.queries import pdf_dir, pdf_path, relative_path
from workflow.documents.render import render_pdf
from workflow.models import Evaluation, PdfFile

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def atomic_write(target: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a reader (or a
    worker killed half-way) never sees half a PDF."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def store_pdf(evaluation_id: int, version: int, outbox_id: int | None = None) -> PdfFile | None:
    """Render and keep the PDF of (evaluation, version); a no-op when it is already stored.

    Returns the PdfFile row, or None when the evaluation does not exist. The file is
    written before the row is committed; a retry after a crash rewrites the same path.
    The outbox row `outbox_id` is marked done in the commit of the PdfFile row (or on its
    own when there was nothing left to do), so a crash before it leaves it for the relay.
    """
    existing = db.session.execute(
        db.select(PdfFile).filter_by(evaluation_id=evaluation_id, version=version)
    ).scalar_one_or_none()
    if existing is not None and (pdf_dir() / existing.path).is_file():
        mark_done_now(outbox_id)
        return existing
    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None:
        log.warning("PDF: evaluation %s does not exist", evaluation_id)
        mark_done_now(outbox_id)
        return None
    if evaluation.version != version:
        # The evaluation moved on before this task ran. What is rendered is what the row
        # holds now, so it is filed under the version it really is, never under an older one.
        log.info(
            "PDF: evaluation %s asked at v%s, is at v%s", evaluation_id, version, evaluation.version
        )
        version = evaluation.version
        existing = db.session.execute(
            db.select(PdfFile).filter_by(evaluation_id=evaluation_id, version=version)
        ).scalar_one_or_none()
        if existing is not None and (pdf_dir() / existing.path).is_file():
            mark_done_now(outbox_id)
            return existing
    started = time.perf_counter()
    data, pages = render_pdf(evaluation)
    state = evaluation.state
    elapsed = time.perf_counter() - started
    relative = relative_path(evaluation_id, version)
    atomic_write(pdf_dir() / relative, data)
    # The write transaction starts after the slow render (never hold SQLite's lock for it).
    db.session.rollback()
    begin_write()
    existing = db.session.execute(
        db.select(PdfFile).filter_by(evaluation_id=evaluation_id, version=version)
    ).scalar_one_or_none()
    if existing is not None:
        existing.size, existing.pages, existing.render_seconds = len(data), pages, elapsed
        mark_done(outbox_id)
        db.session.commit()
        return existing
    row = PdfFile(
        evaluation_id=evaluation_id,
        version=version,
        state=state,
        path=relative,
        size=len(data),
        pages=pages,
        render_seconds=elapsed,
    )
    db.session.add(row)
    mark_done(outbox_id)
    try:
        db.session.commit()
    except IntegrityError:
        # Another worker stored the same (evaluation, version) meanwhile: same path, same file.
        db.session.rollback()
        mark_done_now(outbox_id)
        return db.session.execute(
            db.select(PdfFile).filter_by(evaluation_id=evaluation_id, version=version)
        ).scalar_one()
    log.info(
        "PDF stored: evaluation %s v%s (%s), %d pages, %d KB, %.2f s",
        evaluation_id,
        version,
        state,
        pages,
        (len(data) + 1023) // 1024,
        elapsed,
    )
    return row


def zip_names(rows: list[PdfFile]) -> dict[int, str]:
    """`<unit>-<project>-<id>-v<version>.pdf` for each row, safe as ZIP member names (one query)."""
    from workflow.models import Org, Project

    ids = {row.evaluation_id for row in rows}
    labels = {
        ev_id: f"{unit}-{project}"
        for ev_id, unit, project in db.session.execute(
            db.select(Evaluation.id, Org.name, Project.name)
            .join(Org, Org.id == Evaluation.unit_id)
            .join(Project, Project.id == Evaluation.project_id)
            .where(Evaluation.id.in_(ids))
        )
    }
    names = {}
    for row in rows:
        label = _UNSAFE.sub("_", labels.get(row.evaluation_id, ""))[:120]
        prefix = f"{label}-" if label else ""
        names[row.id] = f"{prefix}{row.evaluation_id}-v{row.version}.pdf"
    return names


def write_zip(rows: list[PdfFile], target: Path) -> int:
    """Write the PDFs into a ZIP file (atomically); returns how many went in.

    PDFs are already compressed, so they are stored, not deflated again.
    """
    import zipfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    count = 0
    try:
        names = zip_names(rows)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for row in rows:
                archive.write(pdf_path(row), arcname=names[row.id])
                count += 1
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count
