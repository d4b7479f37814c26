"""安全审计: the audit administrator's viewer (filters) and .xlsx export; nobody else's.

Every other user gets 404 (the page "does not exist" for them), as in the admin area. Each
query and each export is itself a security event.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from workflow.audit import operations, queries
from workflow.core.audit import KINDS, OUTCOMES, is_auditor

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.before_request
@login_required
def _auditor_only() -> None:
    if not is_auditor(current_user):
        abort(404)


@bp.route("/")
def index() -> tuple[str, int]:
    filters, problems = queries.parse_filters(request.args)
    header, rows = queries.table(filters, queries.PAGE_ROWS)
    operations.record_query(current_user, filters)
    return render_template(
        "audit/index.html",
        filters=filters,
        problems=problems,
        header=header,
        rows=rows,
        logs=queries.LOGS,
        kinds=KINDS,
        outcomes=OUTCOMES,
        limit=queries.PAGE_ROWS,
        export_args=filters.as_dict(),
    ), (422 if problems else 200)


@bp.route("/export.xlsx")
def export_xlsx() -> Response:
    filters, problems = queries.parse_filters(request.args)
    if problems:
        abort(400)
    data = operations.export_xlsx(current_user, filters)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        data,
        mimetype=operations.XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="audit-{filters.log}-{stamp}.xlsx"',
            "Cache-Control": "no-store",
        },
    )
