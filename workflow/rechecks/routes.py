"""抽查复核 pages: batches (finance), the re-checker's list and re-check page, the unit's
answer to an evidence request, the deviation report, and 结果应用 (budget advice, 整改 items,
the public bundle). Thin: parse, ask the policy, one operation, respond."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from workflow import policy
from workflow.core.audit import log_access
from workflow.core.extensions import db
from workflow.core.inputs import parse_int
from workflow.evaluations import evidence as evidence_ops
from workflow.evaluations import views
from workflow.evaluations.operations import OperationError
from workflow.machine import RecheckEvent, Role, Scope
from workflow.models import RecheckBatch, RecheckItem, Rectification
from workflow.rechecks import (
    answers,
    budget,
    bundle,
    export,
    forms,
    operations,
    publish,
    queries,
    rectify,
    report,
    sampling,
)

bp = Blueprint("rechecks", __name__, url_prefix="/rechecks")

Result = str | Response | tuple[str, int]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require_finance() -> None:
    if not policy.is_role(current_user, Role.FINANCE):
        abort(404)


def _require_rechecker() -> None:
    if not policy.is_role(current_user, Role.FINANCE, Role.EXPERT):
        abort(404)


def _flash_error(exc: OperationError) -> None:
    flash(exc.message + ("：" + "；".join(exc.details) if exc.details else ""), "danger")


@bp.app_context_processor
def _hooks() -> dict[str, object]:
    """For the small partials other features' pages include (risk badges, the re-check
    panel, the dashboard's 整改 states): view data, computed here, not in the templates."""
    return {
        "recheck_risk_rows": queries.risk_rows,
        "recheck_panel": lambda ev: queries.evaluation_panel(current_user, ev),
        "rectification_counts": lambda: rectify.counts(current_user),
        "recheck_risky": lambda: queries.risky(current_user),
        "recheck_answer_upload": lambda: {
            "accept": evidence_ops.ACCEPT,
            "limit": evidence_ops.limit_text(),
            "max_upload": request.max_content_length or 0,
        },
    }


@bp.route("/")
@login_required
def index() -> str:
    _require_rechecker()
    if policy.can_manage_rechecks(current_user):
        return render_template(
            "rechecks/index.html",
            batches=queries.batches(),
            cycles=queries.cycles(),
            form=forms.BatchForm.empty(),
            methods=sampling.METHODS,
            mine=queries.my_items(current_user),
        )
    return render_template("rechecks/mine.html", mine=queries.my_items(current_user))


@bp.route("/risks")
@login_required
def risks() -> str:
    """Every evaluation in the user's scope with risk findings, most first, a page at a time
    (the dashboard shows the first ten)."""
    if not policy.is_role(current_user, Role.REVIEWER, Role.FINANCE, Role.SYSADMIN):
        abort(404)
    size = queries.RISKY_PAGE
    number = max(1, min(parse_int(request.args.get("page", "")) or 1, 100_000))
    total, rows = queries.risky(current_user, limit=size, offset=(number - 1) * size)
    pages = max(1, -(-total // size))
    pager = {"page": number, "pages": pages, "has_prev": number > 1, "has_next": number < pages}
    return render_template(
        "rechecks/risks.html", total=total, rows=rows, page=pager, first=(number - 1) * size
    )


@bp.route("/batches", methods=["POST"])
@login_required
def create_batch() -> Result:
    _require_finance()
    form = forms.BatchForm.parse(request.form)
    if not form.errors:
        try:
            batch = operations.create_batch(
                current_user,
                form.cycle,
                form.name,
                form.method,
                form.seed_value,
                rate=form.rate_value,
                count=form.count_value,
            )
        except OperationError as exc:
            db.session.rollback()
            form.errors.append(exc.message)
        else:
            flash(f"已抽取 {len(batch.items)} 份（总体 {batch.population} 份）", "success")
            return redirect(url_for("rechecks.batch", batch_id=batch.id))
    return (
        render_template(
            "rechecks/index.html",
            batches=queries.batches(),
            cycles=queries.cycles(),
            form=form,
            methods=sampling.METHODS,
            mine=queries.my_items(current_user),
        ),
        422,
    )


@bp.route("/batches/<int:batch_id>")
@login_required
def batch(batch_id: int) -> Result:
    _require_finance()
    found = queries.batch_items(batch_id)
    if found is None:
        abort(404)
    the_batch, rows = found
    choices = {
        item.id: queries.rechecker_choices(item) for item in the_batch.items if item.state != "done"
    }
    return render_template(
        "rechecks/batch.html",
        batch=the_batch,
        rows=rows,
        choices=choices,
        method=sampling.METHODS.get(the_batch.method, the_batch.method),
    )


@bp.route("/items/<int:item_id>/assign", methods=["POST"])
@login_required
def assign(item_id: int) -> Result:
    _require_finance()
    person = parse_int(request.form.get("rechecker_id", ""))
    try:
        item = operations.assign(
            current_user,
            item_id,
            person or 0,
            expected_version=parse_int(request.form.get("version", "")),
        )
    except OperationError as exc:
        db.session.rollback()
        if exc.status in (404, 409):
            return views.error_page(exc)
        _flash_error(exc)
        item = operations.load_item(current_user, item_id)
    else:
        flash("已指派复核人", "success")
    return redirect(url_for("rechecks.batch", batch_id=item.batch_id))


@bp.route("/items/<int:item_id>")
@login_required
def item(item_id: int) -> Result:
    _require_rechecker()
    try:
        the_item = operations.load_item(current_user, item_id)
    except OperationError as exc:
        return views.error_page(exc)
    return render_template(
        "rechecks/item.html", page=queries.item_page(current_user, the_item), typed={}
    )


@bp.route("/items/<int:item_id>", methods=["POST"])
@login_required
def item_post(item_id: int) -> Result:
    _require_rechecker()
    try:
        the_item = operations.load_item(current_user, item_id)
    except OperationError as exc:
        return views.error_page(exc)
    codes = [row.code for row in the_item.evaluation.rows]
    form = forms.ScoresForm.parse(request.form, codes)
    action = request.form.get("action", "save")
    reason = (request.form.get("reason") or "").strip()
    try:
        if form.errors:
            raise operations.ValidationFailed("复核得分有误", form.errors)
        if action == "save":
            operations.save_scores(current_user, item_id, form.changes, form.version)
            flash("复核得分已保存", "success")
        else:
            event = RecheckEvent(action)
            operations.fire(
                current_user,
                item_id,
                event,
                reason=reason,
                scores=form.changes if event is RecheckEvent.COMPLETE else None,
                expected_version=form.version,
            )
            flash("已提交", "success")
    except ValueError:
        abort(400)
    except OperationError as exc:
        db.session.rollback()
        if exc.status in (404, 409):
            return views.error_page(exc)
        _flash_error(exc)
        the_item = operations.load_item(current_user, item_id)
        page = queries.item_page(current_user, the_item)
        return render_template(
            "rechecks/item.html", page=page, typed=form.typed, reason=reason
        ), exc.status
    return redirect(url_for("rechecks.item", item_id=item_id))


@bp.route("/items/<int:item_id>/evidence/<int:evidence_id>")
@login_required
def evidence(item_id: int, evidence_id: int) -> Result:
    _require_rechecker()
    try:
        item, path = queries.evidence_file(current_user, item_id, evidence_id)
    except OperationError as exc:
        return views.error_page(exc)
    log_access("download", f"evidence:{evidence_id}", {"recheck_item_id": item_id})
    return send_file(
        path, mimetype=item.content_type, as_attachment=True, download_name=item.original_name
    )


@bp.route("/items/<int:item_id>/answer", methods=["GET", "POST"])
@login_required
def answer(item_id: int) -> Result:
    """The unit answers an evidence request, with files (the form is on its evaluation page
    and on this page, which a refused answer shows again with what was typed)."""
    try:
        the_item = operations.load_for_event(current_user, item_id)
    except OperationError as exc:
        return views.error_page(exc)
    if Scope.OWN_UNIT not in policy.recheck_scopes_for(current_user, the_item):
        abort(404)
    evaluation_id = the_item.evaluation_id
    if request.method == "GET":
        return _answer_page(the_item, "", None)
    try:
        text = request.form.get("answer", "")
        uploads = [
            answers.Upload(f.filename or "", f.stream) for f in request.files.getlist("files")
        ]
        answers.answer(
            current_user,
            item_id,
            text,
            uploads,
            expected_version=parse_int(request.form.get("version", "")),
            request_id=parse_int(request.form.get("request_id", "")),
        )
    except RequestEntityTooLarge:
        limit = int(request.max_content_length or 0) // 2**20
        message = f"一次提交的文件合计不能超过 {limit} MB，请分几次提交或压缩文件。"
        return _answer_page(the_item, "", message, 413)
    except OperationError as exc:
        db.session.rollback()
        if exc.status in (404, 409):
            return views.error_page(exc)
        the_item = operations.load_for_event(current_user, item_id)
        return _answer_page(the_item, text, exc.message, exc.status)
    flash("补充说明已提交", "success")
    return redirect(url_for("evaluations.detail", evaluation_id=evaluation_id))


def _answer_page(item: RecheckItem, typed: str, error: str | None, status: int = 200) -> Result:
    page = render_template(
        "rechecks/answer.html",
        item=item,
        open_requests=[r for r in item.requests if r.answered_at is None],
        typed=typed,
        error=error,
        accept=evidence_ops.ACCEPT,
        limit=evidence_ops.limit_text(),
        max_upload=request.max_content_length or 0,
    )
    return (page, status) if status != 200 else page


@bp.route("/items/<int:item_id>/answers/<int:file_id>")
@login_required
def answer_file(item_id: int, file_id: int) -> Result:
    """A file of the unit's answer: the item's re-checker, finance and the unit itself."""
    try:
        found, path = answers.file_for(current_user, item_id, file_id)
    except OperationError as exc:
        return views.error_page(exc)
    log_access("download", f"recheck_answer_file:{file_id}", {"recheck_item_id": item_id})
    resp = send_file(
        path, mimetype=found.content_type, as_attachment=True, download_name=found.original_name
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# --- the deviation report --------------------------------------------------------------------


def _batch_or_404(batch_id: int) -> RecheckBatch:
    found = db.session.get(RecheckBatch, batch_id)
    if found is None:
        abort(404)
    return found


@bp.route("/batches/<int:batch_id>/report")
@login_required
def deviation(batch_id: int) -> str:
    _require_finance()
    the_batch = _batch_or_404(batch_id)
    return render_template(
        "rechecks/report.html", batch=the_batch, report=report.load(batch_id), grades=report.GRADES
    )


@bp.route("/batches/<int:batch_id>/report.xlsx")
@login_required
def deviation_xlsx(batch_id: int) -> Response:
    _require_finance()
    the_batch = _batch_or_404(batch_id)
    data = export.report_workbook(the_batch.name, report.load(batch_id))
    return _download(data, f"复核偏差分析-{the_batch.id}.xlsx", XLSX)


def _download(data: bytes, name: str, mimetype: str) -> Response:
    import io

    resp = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=name)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- 结果应用 ---------------------------------------------------------------------------------


def _cycle_arg() -> int | None:
    cycle = parse_int(request.values.get("cycle", ""))
    if cycle is None:
        cycles = queries.cycles()
        cycle = cycles[0][0] if cycles else None
    return cycle


@bp.route("/results")
@login_required
def results() -> str:
    _require_finance()
    cycle = _cycle_arg()
    return render_template(
        "rechecks/results.html",
        cycle=cycle,
        cycles=queries.cycles(),
        rows=budget.rows(cycle) if cycle else [],
        advice=budget.ADVICE,
        rectifications=rectify.counts(current_user),
        **{k: v for k, v in _bundle_view(cycle).items() if k != "cycle"},
    )


@bp.route("/results/<int:evaluation_id>/advice", methods=["POST"])
@login_required
def set_advice(evaluation_id: int) -> Result:
    _require_finance()
    try:
        row = budget.set_advice(
            current_user,
            evaluation_id,
            request.form.get("advice", ""),
            budget.parse_share(request.form.get("cut_share", "")),
            request.form.get("reason", ""),
        )
    except OperationError as exc:
        db.session.rollback()
        if exc.status == 404:
            return views.error_page(exc)
        _flash_error(exc)
        return redirect(url_for("rechecks.results", cycle=request.form.get("cycle")))
    flash("预算建议已调整", "success")
    return redirect(url_for("rechecks.results", cycle=row.cycle_id))


@bp.route("/advice.xlsx")
@login_required
def advice_xlsx() -> Response:
    _require_finance()
    cycle = _cycle_arg()
    data = export.advice_workbook(budget.rows(cycle) if cycle else [])
    return _download(data, "预算安排建议.xlsx", XLSX)


# The public bundle: asked for here, built by the PDF worker (publish.py), downloaded here.


def _bundle_view(cycle: int | None) -> dict[str, object]:
    found = publish.latest(cycle) if cycle else None
    return {
        "cycle": cycle,
        "bundle": found,
        "ready": publish.downloadable(cycle) if cycle else None,
        "percent": publish.percent(found) if found else 0,
    }


@bp.route("/public-bundle", methods=["POST"])
@login_required
def public_bundle() -> Result:
    _require_finance()
    cycle = _cycle_arg()
    if cycle is None:
        abort(404)
    try:
        _found, outbox_ids = publish.request_bundle(current_user, cycle)
    except OperationError as exc:
        db.session.rollback()
        if exc.status != 422:
            return views.error_page(exc)
        _flash_error(exc)
        return redirect(url_for("rechecks.results", cycle=cycle) + "#public-bundle")
    if outbox_ids:
        from workflow.core.outbox import dispatch

        dispatch(outbox_ids)
        flash("已开始生成公开包：后台逐份生成 PDF，完成后可在本页下载。", "success")
    else:
        flash("该评价任务的公开包正在生成，没有重复生成；完成后可在本页下载。", "info")
    return redirect(url_for("rechecks.results", cycle=cycle) + "#public-bundle")


@bp.route("/public-bundle/status")
@login_required
def public_bundle_status() -> str:
    """The bundle's state, polled by the results page (htmx) while it is being built."""
    _require_finance()
    return render_template("rechecks/_bundle.html", **_bundle_view(_cycle_arg()))


@bp.route("/public-bundle/<int:bundle_id>/download")
@login_required
def public_bundle_download(bundle_id: int) -> Result:
    _require_finance()
    try:
        found, path = publish.file_for(current_user, bundle_id)
    except OperationError as exc:
        return views.error_page(exc)
    log_access("download", f"public_bundle:{bundle_id}", {"cycle_id": found.cycle_id})
    resp = send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=bundle.file_name(found.cycle),
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/rectifications")
@login_required
def rectifications() -> str:
    if not policy.is_role(
        current_user, Role.FINANCE, Role.REVIEWER, Role.UNIT_STAFF, Role.UNIT_HEAD
    ):
        abort(404)
    return render_template(
        "rechecks/rectifications.html",
        rows=rectify.visible(current_user),
        today=date.today(),
        can_generate=policy.can_manage_rechecks(current_user),
        cycles=queries.cycles(),
    )


@bp.route("/rectifications/generate", methods=["POST"])
@login_required
def generate_rectifications() -> Response:
    _require_finance()
    cycle = _cycle_arg()
    if cycle is None:
        abort(404)
    made = rectify.generate(current_user, cycle)
    flash(f"已从“存在问题/整改措施”生成整改事项 {made} 项", "success")
    return redirect(url_for("rechecks.rectifications"))


@bp.route("/rectifications/<int:rectification_id>/close", methods=["POST"])
@login_required
def close_rectification(rectification_id: int) -> Result:
    try:
        rectify.close(
            current_user,
            rectification_id,
            request.form.get("note", ""),
            parse_int(request.form.get("version", "")),
        )
    except OperationError as exc:
        db.session.rollback()
        if exc.status in (403, 404):
            return views.error_page(operations.NotFound("未找到该整改事项"))
        if exc.status == 409:
            return views.error_page(exc)
        _flash_error(exc)
    else:
        flash("整改事项已销号", "success")
    return redirect(url_for("rechecks.rectifications"))


@bp.route("/rectifications/<int:rectification_id>/edit", methods=["GET", "POST"])
@login_required
def edit_rectification(rectification_id: int) -> Result:
    """Owner and due date of an open 整改 item, with a reason (finance, the department)."""
    item = db.session.get(Rectification, rectification_id)
    if item is None or not rectify.may_edit(current_user, item):
        abort(404)
    typed = {
        "owner": str(item.owner_id),
        "due_on": item.due_on.isoformat(),
        "reason": "",
        "version": str(item.version),
    }
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        typed = {k: request.form.get(k, "") for k in typed}
        try:
            rectify.edit(
                current_user,
                rectification_id,
                owner_id=parse_int(typed["owner"]),
                due_text=typed["due_on"],
                reason=typed["reason"],
                expected_version=parse_int(typed["version"]),
            )
        except rectify.RectifyInvalid as exc:
            db.session.rollback()
            errors, status = exc.fields, exc.status
        except OperationError as exc:
            db.session.rollback()
            return views.error_page(exc)
        else:
            flash("整改事项已调整，责任人与提醒按新的安排执行", "success")
            return redirect(url_for("rechecks.rectifications"))
        item = db.session.get(Rectification, rectification_id)
        assert item is not None
    page = render_template(
        "rechecks/rectification_edit.html",
        item=item,
        choices=rectify.owner_choices(item),
        typed=typed,
        errors=errors,
    )
    return (page, status) if status != 200 else page
