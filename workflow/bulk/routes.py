"""The bulk import page (finance, the system administrator): upload many forms and ZIPs,
watch the worker's progress, read the result of each form, download the report."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from workflow import policy
from workflow.bulk import forms, operations, queries, report
from workflow.bulk.sources import SourceError
from workflow.core.extensions import db
from workflow.models import BulkImport, Cycle

bp = Blueprint("bulk", __name__, url_prefix="/bulk-import")

Result = str | Response | tuple[str, int]


@bp.before_request
@login_required
def _only_finance_and_admin() -> None:
    if not policy.can_bulk_import(current_user):
        abort(404)


def _cycles() -> list[Cycle]:
    return list(
        db.session.scalars(
            select(Cycle).where(Cycle.framework_id.is_not(None)).order_by(Cycle.year.desc())
        )
    )


def _index(error: str | None = None, cycle_id: int | None = None, status: int = 200) -> Result:
    page = render_template(
        "bulk/index.html",
        cycles=_cycles(),
        imports=queries.recent_imports(),
        error=error,
        cycle_id=cycle_id,
        accept=forms.ACCEPT,
        limit_mb=int(request.max_content_length or 0) // 2**20,
    )
    return (page, status) if status != 200 else page


@bp.route("/", methods=["GET", "POST"])
def index() -> Result:
    if request.method == "GET":
        return _index()
    cycle_id = forms.parse_cycle_id(request.form.get("cycle_id"))
    cycle = db.session.get(Cycle, cycle_id) if cycle_id is not None else None
    if cycle_id is not None and cycle is None:
        return _index("找不到所选的评价任务", None, 422)
    try:
        files = forms.parse_uploads(request.files.getlist("files"))
        bulk, outbox_ids = operations.create_bulk_import(
            files, user=current_user, cycle=cycle, source="web", enqueue=True
        )
    except SourceError as exc:
        return _index(exc.message, cycle_id, 422)
    except operations.BulkError as exc:
        if exc.status == 404:
            abort(404)
        return _index(exc.message, cycle_id, 422)
    from workflow.core.outbox import dispatch

    dispatch(outbox_ids)
    return redirect(url_for("bulk.detail", bulk_import_id=bulk.id))


def _load(bulk_import_id: int) -> BulkImport:
    bulk = db.session.get(BulkImport, bulk_import_id)
    if bulk is None:
        abort(404)
    return bulk


def _view(bulk: BulkImport) -> dict[str, object]:
    rows = queries.report_rows(bulk.id) if bulk.status == "done" else []
    return {
        "bulk": bulk,
        "percent": queries.percent(bulk),
        "rows": rows,
        "summary": queries.summary(bulk, rows) if bulk.status == "done" else None,
        "unmatched": report.unmatched_units(rows),
        "cell_text": report.cell_text,
    }


@bp.route("/<int:bulk_import_id>")
def detail(bulk_import_id: int) -> str:
    return render_template("bulk/detail.html", **_view(_load(bulk_import_id)))


@bp.route("/<int:bulk_import_id>/status")
def status(bulk_import_id: int) -> str:
    return render_template("bulk/_status.html", **_view(_load(bulk_import_id)))


def _report(bulk: BulkImport) -> tuple[dict[str, object], list[dict[str, object]]]:
    rows = queries.report_rows(bulk.id)
    return queries.summary(bulk, rows), rows


@bp.route("/<int:bulk_import_id>/report.xlsx")
def report_xlsx(bulk_import_id: int) -> Response:
    summary, rows = _report(_load(bulk_import_id))
    return Response(
        report.report_xlsx(summary, rows),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=bulk-import-{bulk_import_id}.xlsx"},
    )


@bp.route("/<int:bulk_import_id>/report.json")
def report_json(bulk_import_id: int) -> Response:
    summary, rows = _report(_load(bulk_import_id))
    return Response(
        report.report_json(summary, rows),
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename=bulk-import-{bulk_import_id}.json"},
    )
