"""The Excel pages: download one 自评表, upload it back, upload many at once, and the
department's or finance's ZIP of the sheets of a cycle.

Thin: each route reads the request, calls the operations (which ask the policy) and maps a
refusal to a page with its status.
"""

from __future__ import annotations

from typing import IO
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from workflow import policy
from workflow.core.audit import log_access
from workflow.core.extensions import db
from workflow.core.outbox import dispatch
from workflow.evaluations import views
from workflow.evaluations.operations import OperationError
from workflow.machine import Role
from workflow.models import Evaluation
from workflow.workbooks import operations, queries, render, zipjob

bp = Blueprint("workbooks", __name__)

Result = str | Response | tuple[str, int]


def _attachment(data_or_handle: IO[bytes], name: str, mimetype: str) -> Response:
    """A download with its Chinese name (RFC 6266 filename*, an ASCII fallback)."""
    response = send_file(data_or_handle, mimetype=mimetype, as_attachment=True, download_name=name)
    fallback = "".join(ch if ch.isascii() and ch.isalnum() or ch in "-_." else "_" for ch in name)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    )
    return response


@bp.route("/evaluations/<int:evaluation_id>/workbook.xlsx")
@login_required
def download(evaluation_id: int) -> Result:
    import io

    try:
        evaluation, data = operations.download(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    return _attachment(io.BytesIO(data), operations.file_name(evaluation), render.CONTENT_TYPE)


def _file() -> tuple[str, bytes] | None:
    file = request.files.get("file")
    if file is None or not file.filename:
        return None
    return file.filename, file.read(operations.max_bytes() + 1)


@bp.route("/evaluations/<int:evaluation_id>/workbook", methods=["POST"])
@login_required
def upload(evaluation_id: int) -> Result:
    try:
        picked = _file()
    except RequestEntityTooLarge:
        return _too_large()
    try:
        if picked is None:
            raise operations.UploadRefused("请选择要上传的 Excel 文件（.xlsx）")
        result = operations.upload(current_user, evaluation_id, *picked)
    except OperationError as exc:
        db.session.rollback()
        evaluation = db.session.get(Evaluation, evaluation_id)
        if exc.status in (403, 404) or evaluation is None:
            return views.error_page(exc)
        if not policy.can(current_user, policy.EDIT, evaluation):
            return views.error_page(exc)
        return views.form_page(
            evaluation,
            dict(evaluation.entries or {}),
            status=exc.status,
            message=f"Excel 文件未保存：{exc.message}",
        )
    if result.saved_all:
        flash("已从 Excel 读取并保存到草稿", "success")
        return redirect(url_for("evaluations.edit", evaluation_id=evaluation_id))
    # What was typed in the sheet stays on the page, the bad cells with their messages; the
    # valid cells are already in the draft.
    return views.form_page(
        result.evaluation,
        result.form.entries,
        result.form.narrative,
        result.form.errors,
        result.form.version,
        422,
        f"已从 Excel 保存其余内容；{len(result.cell_errors)} 处有误未保存，请在下方修改后保存草稿",
        list(result.cell_errors.values()),
    )


def _too_large() -> tuple[str, int]:
    limit = operations.max_bytes() // 1024 // 1024
    return (
        render_template(
            "error.html",
            code=413,
            title="上传的文件过大",
            message=f"自评表 Excel 文件每个不能超过 {limit} MB，一次上传的文件合计不能超过请求上限。",
        ),
        413,
    )


# --- many at once, and the ZIP ---------------------------------------------------------------


def _index(
    results: list[operations.FileResult] | None = None,
    status: int = 200,
    on_behalf: bool = False,
) -> tuple[str, int]:
    cycles = queries.cycles()
    return (
        render_template(
            "workbooks/index.html",
            cycles=cycles,
            may_upload=policy.is_role(current_user, Role.UNIT_STAFF, Role.UNIT_HEAD),
            may_upload_on_behalf=policy.may_upload_on_behalf(current_user),
            on_behalf_scope="本部门所属单位" if current_user.role == Role.REVIEWER else "各单位",
            may_zip=zipjob.may_zip(current_user),
            **(zipjob.view(current_user) if zipjob.may_zip(current_user) else {}),
            results=results,
            on_behalf=on_behalf,
            max_files=operations.MAX_FILES,
            limit_mb=operations.max_bytes() // 1024 // 1024,
        ),
        status,
    )


@bp.route("/workbooks/")
@login_required
def index() -> Result:
    return _index()


def _files() -> list[tuple[str, bytes]]:
    return [
        (f.filename or "", f.read(operations.max_bytes() + 1))
        for f in request.files.getlist("files")
        if f.filename
    ]


def _upload_many(on_behalf: bool) -> Result:
    try:
        files = _files()
    except RequestEntityTooLarge:
        return _too_large()
    if not files:
        flash("请选择要上传的 Excel 文件（.xlsx），可一次选择多个", "warning")
        return _index(status=400, on_behalf=on_behalf)
    results = operations.upload_many(current_user, files, on_behalf)
    return _index(results, on_behalf=on_behalf)


@bp.route("/workbooks/upload", methods=["POST"])
@login_required
def upload_many() -> Result:
    if not policy.is_role(current_user, Role.UNIT_STAFF, Role.UNIT_HEAD):
        # The unit's own upload; a department or finance uploads for its units on the page
        # below (代为上传, audited and told to the unit). Like every role-bound page, 404 to
        # the other roles.
        abort(404)
    return _upload_many(on_behalf=False)


@bp.route("/workbooks/upload-for-units", methods=["POST"])
@login_required
def upload_on_behalf() -> Result:
    """代为上传: a department (its units' drafts) or finance (every unit's) uploads filled
    sheets; each file's evaluation is decided by the policy on its own."""
    if not policy.may_upload_on_behalf(current_user):
        abort(404)
    return _upload_many(on_behalf=True)


# The ZIP: asked for here, built by the bulk worker (zipjob.py), downloaded here.


def _require_zip() -> None:
    if not zipjob.may_zip(current_user):
        abort(404)


@bp.route("/workbooks/sheets-zip", methods=["POST"])
@login_required
def zip_request() -> Result:
    _require_zip()
    cycle_id = request.form.get("cycle", type=int)
    if cycle_id is None:
        flash("请选择评价任务", "warning")
        return redirect(url_for("workbooks.index"))
    try:
        _found, outbox_ids = zipjob.request_zip(current_user, cycle_id)
    except OperationError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
        return redirect(url_for("workbooks.index") + "#sheets-zip")
    if outbox_ids:
        dispatch(outbox_ids)
        flash("已开始生成 ZIP：后台逐份生成自评表，完成后可在本页下载。", "success")
    else:
        flash("您申请的 ZIP 正在生成，没有重复生成；完成后可在本页下载。", "info")
    return redirect(url_for("workbooks.index") + "#sheets-zip")


@bp.route("/workbooks/sheets-zip/status")
@login_required
def zip_status() -> str:
    """The user's ZIP, polled by the page (htmx) while it is being built."""
    _require_zip()
    return render_template(
        "workbooks/_zip.html", cycles=queries.cycles(), **zipjob.view(current_user)
    )


@bp.route("/workbooks/sheets-zip/<int:zip_id>/download")
@login_required
def zip_file(zip_id: int) -> Result:
    _require_zip()
    try:
        found, path = zipjob.file_for(current_user, zip_id)
    except OperationError as exc:
        return views.error_page(exc)
    log_access(
        "download", f"sheets_zip:{zip_id}", {"cycle_id": found.cycle_id, "scope": found.scope}
    )
    response = _attachment(path.open("rb"), zipjob.download_name(found), "application/zip")
    response.headers["Cache-Control"] = "no-store"
    return response
