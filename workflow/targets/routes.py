"""The targets pages (绩效目标申报与审核): the list, the unit's 绩效目标申报表 page, the
department's review, the adjustment (调整), the version history, finance's import of approved
targets, and the indicator library (指标库) for administrators."""

from __future__ import annotations

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
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow import policy
from workflow.core.extensions import db
from workflow.evaluations import operations as evaluation_ops
from workflow.machine import TARGET_STATE_LABELS, UNIT_ROLES, TargetEvent, TargetState
from workflow.models import Cycle, LibraryIndicator, Project
from workflow.targets import library as library_ops
from workflow.targets import operations, queries, sheet_operations
from workflow.targets.forms import apply_row_action, parse_targets_post
from workflow.targets.operations import TargetsError, TargetsInvalid

bp = Blueprint("targets", __name__, url_prefix="/targets")

Result = str | Response | tuple[str, int]


def _error(exc: TargetsError) -> tuple[str, int]:
    return render_template("error.html", message=exc.message, details=exc.details), exc.status


# --- list ------------------------------------------------------------------------------------


@bp.route("/")
@login_required
def index() -> str:
    state = request.args.get("state", "")
    states = [state] if state in {s.value for s in TargetState} else []
    return render_template(
        "targets/index.html",
        rows=queries.list_targets(current_user, states),
        startable=queries.projects_without_targets(current_user),
        states=TARGET_STATE_LABELS,
        state=state,
        can_import=policy.can_import_targets(current_user),
        can_library=policy.can_manage_library(current_user),
    )


@bp.route("/open", methods=["POST"])
@login_required
def open_targets() -> Result:
    """A unit starts the targets of one of its projects for an active cycle."""
    project = db.session.get(Project, request.form.get("project_id", type=int) or 0)
    cycle = db.session.get(Cycle, request.form.get("cycle_id", type=int) or 0)
    if (
        project is None
        or cycle is None
        or project.unit_id != current_user.org_id
        or not policy.is_role(current_user, *UNIT_ROLES)
    ):
        abort(404)
    from workflow.core.database import begin_write

    begin_write()
    try:
        targets = operations.open_targets(project, cycle)
    except TargetsError as exc:
        return _error(exc)
    db.session.commit()
    return redirect(url_for("targets.edit", targets_id=targets.id))


# --- the 绩效目标申报表 ---------------------------------------------------------------------------


def _page(targets_id: int, *, adjusting: bool = False, status: int = 200) -> Result:
    try:
        targets = operations.load_targets_for(current_user, targets_id)
        framework = operations.framework_of(targets)
    except TargetsError as exc:
        return _error(exc)
    if adjusting and not policy.can_targets(current_user, policy.TARGETS_ADJUST_EDIT, targets):
        return redirect(url_for("targets.edit", targets_id=targets_id))
    page = queries.targets_page(
        current_user, targets, framework, operations.problems_of(targets), adjusting=adjusting
    )
    evaluation_id = db.session.scalar(
        select(evaluation_ops.Evaluation.id).where(
            evaluation_ops.Evaluation.project_id == targets.project_id,
            evaluation_ops.Evaluation.cycle_id == targets.cycle_id,
        )
    )
    return (
        render_template(
            "targets/edit.html",
            page=page,
            t=targets,
            natures=queries.NATURE_CHOICES,
            evaluation_id=evaluation_id,
            can_start=policy.is_role(current_user, *UNIT_ROLES)
            and targets.unit_id == current_user.org_id
            and evaluation_id is None
            and targets.current_version_id is not None,
            can_upload=policy.can_targets(current_user, policy.TARGETS_EDIT, targets)
            or policy.can_targets(current_user, policy.TARGETS_ADJUST_EDIT, targets),
        ),
        status,
    )


@bp.route("/<int:targets_id>")
@login_required
def edit(targets_id: int) -> Result:
    return _page(targets_id)


@bp.route("/<int:targets_id>/adjust")
@login_required
def adjust(targets_id: int) -> Result:
    return _page(targets_id, adjusting=True)


@bp.route("/<int:targets_id>", methods=["POST"])
@bp.route("/<int:targets_id>/adjust", methods=["POST"], endpoint="adjust_post")
@login_required
def edit_post(targets_id: int) -> Result:
    """保存 keeps everything typed; 提交 (or 申请调整) refuses with the check's messages;
    the row buttons change the rows and show the page again."""
    adjusting = request.endpoint == "targets.adjust_post"
    post = parse_targets_post(request.form)
    library = {
        item.id: item
        for item in db.session.scalars(
            select(LibraryIndicator).where(LibraryIndicator.active.is_(True))
        )
    }
    apply_row_action(post, library)
    try:
        operations.save_targets(
            current_user,
            targets_id,
            goal=post.goal,
            rows=post.rows,
            reason=post.reason if adjusting else None,
            expected_version=post.version,
        )
        if post.action in ("submit", "adjust"):
            event = TargetEvent.ADJUST if adjusting else TargetEvent.SUBMIT
            operations.fire_targets(
                current_user,
                targets_id,
                event,
                reason=post.reason if adjusting else None,
            )
            flash(
                "调整已提交主管部门审核" if adjusting else "绩效目标已提交主管部门审核", "success"
            )
            return redirect(url_for("targets.edit", targets_id=targets_id))
    except TargetsInvalid as exc:
        flash(exc.message, "danger")
        return _page(targets_id, adjusting=adjusting, status=422)
    except TargetsError as exc:
        if exc.status in (403, 404, 409):
            return _error(exc)
        flash(exc.message, "danger")
        return _page(targets_id, adjusting=adjusting, status=exc.status)
    if post.action == "save":
        flash("已保存", "success")
    endpoint = "targets.adjust" if adjusting else "targets.edit"
    anchor = "rows" if post.action != "save" else ""
    return redirect(url_for(endpoint, targets_id=targets_id, _anchor=anchor or None))


@bp.route("/<int:targets_id>/review", methods=["POST"])
@login_required
def review_post(targets_id: int) -> Result:
    """The department approves, or returns with a required reason."""
    try:
        operations.load_targets_for(current_user, targets_id)  # not visible: 404 first
    except TargetsError as exc:
        return _error(exc)
    event = request.form.get("event", "")
    if event not in (TargetEvent.APPROVE.value, TargetEvent.RETURN.value):
        abort(400)
    version = request.form.get("version", type=int)
    try:
        operations.fire_targets(
            current_user,
            targets_id,
            TargetEvent(event),
            reason=request.form.get("reason", ""),
            expected_version=version,
        )
    except TargetsError as exc:
        if exc.status in (403, 404, 409):
            return _error(exc)
        flash(exc.message, "danger")
        return _page(targets_id, status=exc.status)
    flash("已审核通过" if event == "approve" else "已退回单位修改", "success")
    return redirect(url_for("targets.edit", targets_id=targets_id))


@bp.route("/<int:targets_id>/history")
@login_required
def history(targets_id: int) -> Result:
    try:
        targets = operations.load_targets_for(current_user, targets_id)
    except TargetsError as exc:
        return _error(exc)
    return render_template("targets/history.html", t=targets, versions=queries.history(targets))


@bp.route("/<int:targets_id>/start", methods=["POST"])
@login_required
def start_evaluation(targets_id: int) -> Result:
    """The unit starts the project's self-evaluation: only with approved targets."""
    from workflow.core.database import begin_write

    try:
        targets = operations.load_targets_for(current_user, targets_id)
    except TargetsError as exc:
        return _error(exc)
    if targets.unit_id != current_user.org_id:
        abort(404)
    begin_write()
    try:
        evaluation = evaluation_ops.create_evaluation(targets.project, targets.cycle)
        db.session.commit()
    except evaluation_ops.OperationError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("targets.edit", targets_id=targets_id))
    flash("已开始自评", "success")
    return redirect(url_for("evaluations.edit", evaluation_id=evaluation.id))


# --- the 申报表 as .xlsx ------------------------------------------------------------------------

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/<int:targets_id>/sheet.xlsx")
@login_required
def sheet_download(targets_id: int) -> Result:
    import io

    try:
        targets, data = sheet_operations.sheet_of(current_user, targets_id)
    except TargetsError as exc:
        return _error(exc)
    return send_file(
        io.BytesIO(data),
        mimetype=XLSX_MIMETYPE,
        as_attachment=True,
        download_name=sheet_operations.file_name(targets),
    )


@bp.route("/<int:targets_id>/sheet", methods=["POST"])
@login_required
def sheet_upload(targets_id: int) -> Result:
    """The unit's filled 申报表 into its working copy; the page then shows it as typed."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要上传的申报表（.xlsx）", "danger")
        return _page(targets_id, status=400)
    try:
        done = sheet_operations.upload_sheet(
            current_user, targets_id, upload.filename, upload.read()
        )
    except TargetsError as exc:
        if exc.status in (403, 404, 409):
            return _error(exc)
        flash(exc.message, "danger")
        return _page(targets_id, status=422)
    for problem in done.cell_problems[:30]:
        flash(problem, "danger")
    if len(done.cell_problems) > 30:
        flash(f"另有 {len(done.cell_problems) - 30} 处单元格有误", "danger")
    flash(
        "已读入申报表并保存"
        + ("，请改正标出的单元格后再提交" if done.cell_problems else "，请核对后提交"),
        "warning" if done.cell_problems else "success",
    )
    return redirect(
        url_for("targets.adjust" if done.adjusting else "targets.edit", targets_id=targets_id)
    )


# --- finance: import approved targets --------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_targets() -> Result:
    """Finance imports approved targets: budget-system JSON exports and filled 申报表
    workbooks, many files at once, each all or nothing, with a result per file."""
    if not policy.can_import_targets(current_user):
        abort(404)
    cycles = db.session.scalars(
        select(Cycle).where(Cycle.framework_id.is_not(None)).order_by(Cycle.year.desc())
    ).all()
    results = None
    if request.method == "POST":
        uploads = [f for f in request.files.getlist("file") if f and f.filename]
        cycle = db.session.get(Cycle, request.form.get("cycle_id", type=int) or 0)
        if not uploads or cycle is None:
            flash("请选择评价任务和文件", "danger")
            return render_template("targets/import.html", cycles=cycles, results=None), 400
        try:
            results = sheet_operations.import_files(
                current_user, ((f.filename or "", f.read()) for f in uploads), cycle
            )
        except TargetsError as exc:
            return _error(exc)
        good = sum(len(r.imported) for r in results if r.ok)
        bad = sum(1 for r in results if not r.ok)
        if good:
            flash(f"已导入 {good} 个项目的已批复绩效目标", "success")
        if bad:
            flash(f"{bad} 个文件有误，未导入（见下方每个文件的结果）", "danger")
            return render_template("targets/import.html", cycles=cycles, results=results), 422
    return render_template("targets/import.html", cycles=cycles, results=results)


@bp.route("/import/template.xlsx")
@login_required
def import_template() -> Result:
    """A blank 申报表 of a cycle's framework: finance types the project block and the rows."""
    import io

    if not policy.can_import_targets(current_user):
        abort(404)
    cycle_id = request.args.get("cycle_id", type=int)
    cycle = (
        db.session.get(Cycle, cycle_id)
        if cycle_id
        else db.session.scalars(
            select(Cycle).where(Cycle.framework_id.is_not(None)).order_by(Cycle.year.desc())
        ).first()
    )
    if cycle is None:
        abort(404)
    try:
        data = sheet_operations.blank_sheet(current_user, cycle)
    except TargetsError as exc:
        return _error(exc)
    return send_file(
        io.BytesIO(data),
        mimetype=XLSX_MIMETYPE,
        as_attachment=True,
        download_name=f"绩效目标申报表-{cycle.year}-空白.xlsx",
    )


# --- the indicator library (指标库) ----------------------------------------------------------


def _require_library_admin() -> None:
    if not policy.can_manage_library(current_user):
        abort(404)


@bp.route("/library")
@login_required
def library() -> str:
    _require_library_admin()
    items = db.session.scalars(
        select(LibraryIndicator).order_by(
            LibraryIndicator.level1, LibraryIndicator.level2, LibraryIndicator.id
        )
    ).all()
    return render_template(
        "targets/library.html", items=items, symbols=dict(queries.NATURE_CHOICES)
    )


def _library_input() -> library_ops.LibraryInput:
    form = request.form
    return library_ops.LibraryInput(
        level1=form.get("level1", ""),
        level2=form.get("level2", ""),
        name=form.get("name", ""),
        nature=form.get("nature", ""),
        unit=form.get("unit", ""),
        default_value=form.get("default_value", ""),
        method=form.get("method", ""),
        active=form.get("active", "1") == "1",
    )


@bp.route("/library/new", methods=["GET", "POST"])
@bp.route("/library/<int:indicator_id>/edit", methods=["GET", "POST"])
@login_required
def library_edit(indicator_id: int | None = None) -> Result:
    _require_library_admin()
    item = db.session.get(LibraryIndicator, indicator_id) if indicator_id else None
    if indicator_id and item is None:
        abort(404)
    if request.method == "POST":
        data = _library_input()
        try:
            library_ops.save_indicator(indicator_id, data)
        except library_ops.LibraryError as exc:
            flash(exc.message, "danger")
            return (
                render_template(
                    "targets/library_form.html",
                    item=data,
                    details=exc.details,
                    natures=queries.NATURE_CHOICES,
                ),
                422,
            )
        flash("已保存", "success")
        return redirect(url_for("targets.library"))
    return render_template(
        "targets/library_form.html", item=item, details=[], natures=queries.NATURE_CHOICES
    )


@bp.route("/library/<int:indicator_id>/active", methods=["POST"])
@login_required
def library_active(indicator_id: int) -> Result:
    _require_library_admin()
    try:
        library_ops.set_active(indicator_id, request.form.get("active") == "1")
    except library_ops.LibraryError:
        abort(404)
    return redirect(url_for("targets.library"))


@bp.route("/library/export.xlsx")
@login_required
def library_export() -> Response:
    _require_library_admin()
    import io

    items = db.session.scalars(
        select(LibraryIndicator).order_by(
            LibraryIndicator.level1, LibraryIndicator.level2, LibraryIndicator.id
        )
    ).all()
    return send_file(
        io.BytesIO(library_ops.export_xlsx(items)),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name="指标库.xlsx",
    )


@bp.route("/library/import", methods=["POST"])
@login_required
def library_import() -> Result:
    _require_library_admin()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择 .xlsx 文件", "danger")
        return redirect(url_for("targets.library"))
    try:
        added, updated = library_ops.import_xlsx(
            upload.read(), max_bytes=sheet_operations.max_bytes()
        )
    except library_ops.LibraryError as exc:
        flash("；".join([exc.message, *exc.details[:20]]), "danger")
        return redirect(url_for("targets.library"))
    flash(f"已导入：新增 {added} 个，更新 {updated} 个", "success")
    return redirect(url_for("targets.library"))
