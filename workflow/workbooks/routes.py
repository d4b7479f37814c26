"""The Excel pages: download one 自评表, upload it back, upload many at once, and the
department's or finance's ZIP of the sheets of a cycle.

Thin: each route reads the request, calls the operations (which ask the policy) and maps a
refusal to a page with its status.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import IO
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
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
from workflow.core.extensions import db
from workflow.evaluations import views
from workflow.evaluations.operations import OperationError
from workflow.machine import Role
from workflow.models import Evaluation
from workflow.workbooks import operations, queries, render

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
            may_zip=operations.may_zip(current_user),
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


@bp.route("/workbooks/sheets.zip")
@login_required
def zip_download() -> Result:
    if not operations.may_zip(current_user):
        abort(404)
    cycle_id = request.args.get("cycle", type=int)
    if cycle_id is None:
        flash("请选择评价任务", "warning")
        return redirect(url_for("workbooks.index"))
    target = Path(current_app.config["VAR_DIR"]) / "zips" / f"{uuid.uuid4().hex}.zip"
    try:
        count = operations.write_zip(
            current_user, cycle_id, target, request.args.get("unit", type=int)
        )
    except OperationError as exc:
        flash(exc.message, "warning")
        return redirect(url_for("workbooks.index"))
    handle = target.open("rb")
    target.unlink()  # the open handle keeps the data until the response is sent
    return _attachment(handle, f"绩效自评表Excel-{count}份.zip", "application/zip")
