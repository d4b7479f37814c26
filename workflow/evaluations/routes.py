"""The unit's pages: the list, the form (fill, recalculate, save, submit), the detail page with
its history, evidence and PDF, and the simple workflow buttons (withdraw, start review, return).

Every route parses the form, asks the operations (which ask the policy), and maps a refusal
to a page with its status.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from scoring.numbers import fmt
from workflow import policy
from workflow.core.audit import log_access
from workflow.core.extensions import db
from workflow.documents import operations as documents
from workflow.documents import queries as pdf_files
from workflow.evaluations import evidence as evidence_ops
from workflow.evaluations import operations, queries, trail, views
from workflow.evaluations import seal as seal_ops
from workflow.evaluations import stage as stage_pages
from workflow.evaluations.forms import EntryForm, parse_entry_form, parse_reason, parse_version
from workflow.evaluations.history import timeline
from workflow.evaluations.operations import OperationError
from workflow.evaluations.views import PAGE_EVENTS, SIMPLE_EVENTS
from workflow.machine import STATE_LABELS, Event, Role, State
from workflow.models import Evaluation
from workflow.models.types import mask_phone

bp = Blueprint("evaluations", __name__, url_prefix="/evaluations")

Result = str | Response | tuple[str, int]


@bp.app_template_filter("score")
def score_filter(value: Decimal | None) -> str:
    """A score as printed: two places, exact (Decimal formatting, never float)."""
    return "" if value is None else f"{value:.2f}"


@bp.app_template_filter("local_time")
def local_time_filter(value: datetime | None) -> str:
    """A stored UTC time as people read it here: 2026-03-01 14:05 (Beijing time)."""
    return views.local_time(value)


@bp.app_template_filter("plain")
def plain_filter(value: Decimal | None) -> str:
    """A weight or amount without trailing zeros: 10, 2.5."""
    return "" if value is None else fmt(value)


@bp.route("/")
@login_required
def index() -> str:
    filters = queries.ListFilters.from_args(request.args)
    page = queries.list_evaluations(current_user, filters)
    return render_template(
        "evaluations/index.html",
        page=page,
        filters=filters,
        cycles=queries.cycles(),
        units=queries.units_for(current_user),
        states=STATE_LABELS,
    )


# --- detail ----------------------------------------------------------------------------------


def _detail(
    evaluation: Evaluation,
    status: int = 200,
    event_errors: dict[str, str] | None = None,
    event_reasons: dict[str, str] | None = None,
) -> tuple[str, int]:
    user = current_user
    pdf = pdf_files.latest_pdf(evaluation.id)
    events = policy.available_events(user, evaluation)
    deadlines = {s: evaluation.cycle.deadline_for(s) for s in ("submit", "review", "confirm")}
    scheme = views.scheme_for(evaluation)
    names = {ind.code: ind.path for ind in scheme.indicators}
    return (
        render_template(
            "evaluations/detail.html",
            ev=evaluation,
            names=names,
            events=events,
            simple_events=SIMPLE_EVENTS,
            page_events=PAGE_EVENTS,
            can_edit=policy.can(user, policy.EDIT, evaluation),
            pdf=pdf,
            history=timeline(evaluation, names),
            deadline=views.deadline_for(
                evaluation.state, deadlines, kind=evaluation.cycle.day_kind
            ),
            event_errors=event_errors or {},
            event_reasons=event_reasons or {},
            accept=evidence_ops.ACCEPT,
            evidence_limit=evidence_ops.limit_text(),
            money=views.money,
            # The grade is shown: check its SM2 seal against the live rows (seal.py).
            seal=seal_ops.check(evaluation, current_user._get_current_object()),
            phone=mask_phone(evaluation.phone),
            evidence=trail.evidence_items(evaluation),
            **trail.trail_context(evaluation),
        ),
        status,
    )


@bp.route("/<int:evaluation_id>")
@login_required
def detail(evaluation_id: int) -> Result:
    try:
        evaluation = operations.load_for(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    return _detail(evaluation)


# --- the form --------------------------------------------------------------------------------


def _form_page(
    evaluation: Evaluation,
    entries: dict[str, Any],
    narrative: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    version: int | None = None,
    status: int = 200,
    message: str | None = None,
) -> tuple[str, int]:
    return views.form_page(evaluation, entries, narrative, errors, version, status, message)


@bp.route("/<int:evaluation_id>/edit")
@login_required
def edit(evaluation_id: int) -> Result:
    try:
        evaluation = operations.load_for(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    if not policy.can(current_user, policy.EDIT, evaluation):
        flash(f"当前状态（{evaluation.state_label}）不能修改自评表", "warning")
        return redirect(url_for("evaluations.detail", evaluation_id=evaluation.id))
    return _form_page(evaluation, dict(evaluation.entries or {}))


def _parse(evaluation: Evaluation) -> EntryForm:
    scheme = views.scheme_for(evaluation)
    return parse_entry_form(request.form, scheme, evaluation.entries or {})


@bp.route("/<int:evaluation_id>/edit", methods=["POST"])
@login_required
def edit_post(evaluation_id: int) -> Result:
    try:
        evaluation = operations.load_for(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    form = _parse(evaluation)
    action = request.form.get("do", "save")
    if not policy.can(current_user, policy.EDIT, evaluation):
        if not policy.could_edit_in_its_state(current_user, policy.EDIT, evaluation):
            return views.error_page(operations.Forbidden("您无权执行此操作"))
        # Visible but no longer editable (a colleague submitted it meanwhile): keep what was
        # typed on the page, so that nothing is lost, and say why it cannot be saved.
        return _form_page(
            evaluation,
            form.entries,
            form.narrative,
            form.errors,
            evaluation.version,
            409,
            f"{operations.CONFLICT_MESSAGE}（当前状态：{evaluation.state_label}，不能再保存）",
        )

    def again(status: int, message: str | None = None) -> tuple[str, int]:
        return _form_page(
            evaluation, form.entries, form.narrative, form.errors, form.version, status, message
        )

    if action == "recalc":
        return again(422 if form.errors else 200)
    if form.too_long:
        # The one thing a draft cannot keep: text longer than its column.
        return again(422, "有内容超过长度限制，请按提示删减后再保存（已填写的内容均已保留）")
    try:
        operations.save_draft(
            current_user, evaluation_id, form.entries, form.narrative, expected_version=form.version
        )
    except OperationError as exc:
        db.session.rollback()
        evaluation = db.session.get(Evaluation, evaluation_id) or evaluation
        # What was typed stays on the page; after a conflict the page carries the version now
        # stored, so saving again is a deliberate choice to keep this text.
        version = evaluation.version if exc.status == 409 else form.version
        return _form_page(
            evaluation,
            form.entries,
            form.narrative,
            form.errors,
            version,
            exc.status,
            exc.message,
        )
    if action == "submit":
        return redirect(url_for("evaluations.submit", evaluation_id=evaluation_id))
    if form.errors:
        flash(f"草稿已保存（含 {len(form.errors)} 处填写错误，提交前须按提示修改）", "warning")
    else:
        flash("草稿已保存", "success")
    return redirect(url_for("evaluations.edit", evaluation_id=evaluation_id))


@bp.route("/<int:evaluation_id>/autosave", methods=["POST"])
@login_required
def autosave(evaluation_id: int) -> Response | tuple[Response, int]:
    """The page's autosave (app.js, every minute while typing): the same draft save as
    保存草稿, answered with the new version as JSON instead of a page."""
    try:
        evaluation = operations.load_for(current_user, evaluation_id, policy.EDIT)
        form = _parse(evaluation)
        if form.too_long:
            raise OperationError("有内容超过长度限制，未能自动保存，请按提示删减")
        saved = operations.save_draft(
            current_user, evaluation_id, form.entries, form.narrative, expected_version=form.version
        )
    except OperationError as exc:
        db.session.rollback()
        return jsonify(error=exc.message), exc.status
    return jsonify(
        version=saved.version,
        saved_at=views.local_time(saved.updated_at)[-5:],
        problems=len(form.errors),
    )


@bp.route("/<int:evaluation_id>/preview", methods=["POST"])
@login_required
def preview(evaluation_id: int) -> Result:
    """The live score: htmx posts the form and swaps in this fragment (the server computes)."""
    try:
        evaluation = operations.load_for(current_user, evaluation_id, policy.EDIT)
    except OperationError as exc:
        return views.error_page(exc)
    form = _parse(evaluation)
    if not request.headers.get("HX-Request"):
        return _form_page(evaluation, form.entries, form.narrative, form.errors, form.version)
    scheme = views.scheme_for(evaluation)
    card = views.scorecard(evaluation, form.entries)
    blocking, notes = views.summary_flags(scheme, card, errors=form.errors)
    return render_template(
        "evaluations/_preview.html",
        card=card,
        rows=views.form_rows(scheme, card, form.entries),
        blocking=blocking,
        notes=notes,
        errors=form.errors,
        oob=True,
    )


# --- submit behind a confirmation ------------------------------------------------------------


def _submit_page(
    evaluation: Evaluation, status: int = 200, problems: list[str] | None = None
) -> tuple[str, int]:
    scheme = views.scheme_for(evaluation)
    card = views.scorecard(evaluation)
    blocking, notes = views.summary_flags(scheme, card, evaluation.entries or {})
    return (
        render_template(
            "evaluations/submit.html",
            ev=evaluation,
            card=card,
            blocking=problems if problems is not None else blocking,
            notes=notes,
        ),
        status,
    )


@bp.route("/<int:evaluation_id>/submit")
@login_required
def submit(evaluation_id: int) -> Result:
    try:
        evaluation = operations.load_for(current_user, evaluation_id, Event.SUBMIT.value)
    except OperationError as exc:
        return views.error_page(exc)
    return _submit_page(evaluation)


@bp.route("/<int:evaluation_id>/submit", methods=["POST"])
@login_required
def submit_post(evaluation_id: int) -> Result:
    try:
        operations.fire(
            current_user, evaluation_id, Event.SUBMIT, expected_version=parse_version(request.form)
        )
    except OperationError as exc:
        db.session.rollback()
        evaluation = db.session.get(Evaluation, evaluation_id)
        if exc.status == 404 or evaluation is None or not policy.can_view(current_user, evaluation):
            return views.error_page(exc)
        if exc.status == 422:
            return _submit_page(evaluation, 422, exc.details)
        flash(exc.message, "danger")
        return _submit_page(evaluation, exc.status)
    flash("自评表已提交，等待主管部门审核", "success")
    return redirect(url_for("evaluations.detail", evaluation_id=evaluation_id))


# --- the simple workflow buttons -------------------------------------------------------------

_STAGE_OF_NEXT = {"review": stage_pages.STAGES["dept"], "finance": stage_pages.STAGES["final"]}


@bp.route("/<int:evaluation_id>/events/<event>", methods=["POST"])
@login_required
def fire_event(evaluation_id: int, event: str) -> Result:
    try:
        chosen = Event(event)
    except ValueError:
        abort(404)
    if chosen not in SIMPLE_EVENTS:
        abort(404)
    reason, reason_error = parse_reason(request.form)
    back = request.form.get("next", "")
    try:
        if reason_error:
            raise OperationError(reason_error)
        result = operations.fire(
            current_user,
            evaluation_id,
            chosen,
            reason=reason or None,
            expected_version=parse_version(request.form),
        )
    except OperationError as exc:
        db.session.rollback()
        evaluation = db.session.get(Evaluation, evaluation_id)
        if exc.status == 404 or evaluation is None or not policy.can_view(current_user, evaluation):
            return views.error_page(exc)
        offered = any(t.event is chosen for t in policy.available_events(current_user, evaluation))
        if exc.status == 409 or not offered:
            # The button may be gone (someone else moved the evaluation on): say so on top.
            flash(exc.message, "danger")
            return _detail(evaluation, exc.status)
        spec = _STAGE_OF_NEXT.get(back)
        if spec is not None and policy.is_role(current_user, spec.role):
            # Refused on the review or finance page: the same page, the message beside the
            # button and the typed reason kept.
            return stage_pages.render_stage(
                current_user,
                evaluation,
                spec,
                status=exc.status,
                event_errors={chosen.value: exc.message},
                event_reasons={chosen.value: reason},
            )
        return _detail(
            evaluation,
            exc.status,
            event_errors={chosen.value: exc.message},
            event_reasons={chosen.value: reason},
        )
    flash(f"已{result.transition.label}，当前状态：{result.evaluation.state_label}", "success")
    if back in ("review", "finance") and result.evaluation.state != State.DRAFT.value:
        target = "review.review" if back == "review" else "finance.confirm"
        if policy.can_view(current_user, result.evaluation):
            return redirect(url_for(target, evaluation_id=evaluation_id))
    return redirect(url_for("evaluations.detail", evaluation_id=evaluation_id))


# --- evidence and PDF ------------------------------------------------------------------------


@bp.route("/<int:evaluation_id>/evidence", methods=["POST"])
@login_required
def upload_evidence(evaluation_id: int) -> Result:
    try:
        file = request.files.get("file")
        upload = evidence_ops.Upload(file.filename or "", file.stream) if file else None
        item = evidence_ops.add_evidence(current_user, evaluation_id, upload)
    except RequestEntityTooLarge:
        return _too_large()
    except evidence_ops.EvidenceTooLarge:
        db.session.rollback()
        return _too_large()
    except OperationError as exc:
        db.session.rollback()
        if exc.status in (403, 404):
            return views.error_page(exc)
        flash(exc.message, "danger")
        evaluation = db.session.get(Evaluation, evaluation_id)
        assert evaluation is not None
        return _detail(evaluation, exc.status)
    flash(f"已上传佐证材料：{item.original_name}", "success")
    return redirect(url_for("evaluations.detail", evaluation_id=evaluation_id) + "#evidence")


def _too_large() -> tuple[str, int]:
    return (
        render_template(
            "error.html",
            code=413,
            title="上传的文件过大",
            message=f"佐证材料每个文件不能超过 {evidence_ops.limit_text()}，请压缩或拆分后重新上传。",
        ),
        413,
    )


@bp.route("/<int:evaluation_id>/evidence/<int:evidence_id>")
@login_required
def download_evidence(evaluation_id: int, evidence_id: int) -> Result:
    try:
        item, path = evidence_ops.evidence_for(current_user, evaluation_id, evidence_id)
    except OperationError as exc:
        return views.error_page(exc)
    mimetype, name = item.content_type, item.original_name
    log_access("download", f"evidence:{evidence_id}", {"evaluation_id": evaluation_id})
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=name)


@bp.route("/<int:evaluation_id>/evidence/<int:evidence_id>/view")
@login_required
def view_evidence(evaluation_id: int, evidence_id: int) -> Result:
    """Preview in the browser: a PDF or an image, inline, with its own content type; the
    same access check as the download. Other types only download."""
    try:
        item, path = evidence_ops.evidence_for(current_user, evaluation_id, evidence_id)
    except OperationError as exc:
        return views.error_page(exc)
    if item.content_type not in trail.INLINE_TYPES:
        abort(404)
    log_access(
        "download", f"evidence:{evidence_id}", {"evaluation_id": evaluation_id, "inline": True}
    )
    response = send_file(
        path, mimetype=item.content_type, as_attachment=False, download_name=item.original_name
    )
    # Shown as what it is and nothing else: no sniffing, nothing fetched but itself.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'none'"
    )
    return response


@bp.route("/<int:evaluation_id>/print")
@login_required
def print_view(evaluation_id: int) -> Result:
    """The form as the PDF lays it out, as a page to print from the browser (打印)."""
    try:
        evaluation = operations.load_for(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    from workflow.documents.render import build_view

    return render_template("evaluations/print.html", form=build_view(evaluation), ev=evaluation)


@bp.route("/<int:evaluation_id>/pdf")
@login_required
def pdf(evaluation_id: int) -> Result:
    try:
        evaluation = operations.load_for(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    item = pdf_files.latest_pdf(evaluation.id)
    if item is None:
        abort(404)
    full = pdf_files.pdf_path(item)
    name = f"{evaluation.project.name}-绩效自评表-v{item.version}.pdf"
    log_access("download", f"pdf:{evaluation_id}", {"version": item.version})
    return send_file(full, mimetype="application/pdf", as_attachment=True, download_name=name)


@bp.route("/pdfs.zip")
@login_required
def pdf_zip() -> Result:
    """All the latest PDFs of a cycle and/or a department in one ZIP.

    Reviewers get their own department only; finance and the administrator any."""
    if not policy.is_role(current_user, Role.REVIEWER, Role.FINANCE, Role.SYSADMIN):
        abort(404)
    cycle_id = request.args.get("cycle", type=int)
    department_id = request.args.get("department", type=int)
    if current_user.role == Role.REVIEWER:
        if department_id not in (None, current_user.org_id):
            abort(404)
        department_id = current_user.org_id
    if cycle_id is None and department_id is None:
        flash("请选择评价任务或主管部门", "warning")
        return redirect(url_for("dashboard.index"))
    rows = pdf_files.latest_pdfs(department_id=department_id, cycle_id=cycle_id)
    if not rows:
        flash("所选范围内还没有生成好的 PDF", "warning")
        return redirect(url_for("dashboard.index", cycle=cycle_id))
    target = Path(current_app.config["VAR_DIR"]) / "zips" / f"{uuid.uuid4().hex}.zip"
    documents.write_zip(rows, target)
    log_access(
        "export",
        "pdf-zip",
        {"cycle_id": cycle_id, "department_id": department_id, "files": len(rows)},
    )
    handle = target.open("rb")
    target.unlink()  # the open handle keeps the data until the response is sent
    return send_file(
        handle,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"绩效自评表PDF-{len(rows)}份.zip",
    )
