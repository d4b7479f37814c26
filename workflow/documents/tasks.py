"""Render the PDF of an (evaluation, version); idempotent, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="workflow.tasks.pdf.render_evaluation_pdf")
def render_evaluation_pdf(evaluation_id: int, version: int) -> int | None:
    """Return the PdfFile id (the existing one when this version was already rendered)."""
    from workflow.documents.operations import store_pdf

    row = store_pdf(int(evaluation_id), int(version))
    return row.id if row is not None else None
