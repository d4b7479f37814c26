"""Render the PDF of an (evaluation, version); idempotent, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="workflow.tasks.pdf.render_evaluation_pdf")
def render_evaluation_pdf(
    evaluation_id: int, version: int, outbox_id: int | None = None
) -> int | None:
    """Return the PdfFile id (the existing one when this version was already rendered).

    `outbox_id` is the outbox row this hand-out came from: it is marked done in the same
    transaction as the PdfFile row (messages queued before it existed carry none)."""
    from workflow.documents.operations import store_pdf

    row = store_pdf(int(evaluation_id), int(version), outbox_id=outbox_id)
    return row.id if row is not None else None
