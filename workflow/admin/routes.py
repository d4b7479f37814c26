"""系统管理: organisations, cycles, frameworks (schemes), form import and failed reminders.
The accounts (users, roles, resets, administrator requests) are workflow/accounts.

Each page names the administrators it serves (workflow/admin/access.py); everyone else gets
404.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

import scoring
from workflow.admin import operations as admin_ops
from workflow.admin.access import EXPIRED, admin_may, apply_error, check_admin_page
from workflow.admin.forms import (
    ConfirmForm,
    CycleForm,
    ImportForm,
    OrgForm,
    SchemeUploadForm,
    options,
)
from workflow.core.extensions import db
from workflow.models import (
    STAGES,
    Actor,
    AdminRequest,
    Cycle,
    Evaluation,
    Org,
    OrgKind,
    Project,
    ReminderClaim,
    User,
)
from workflow.models.types import mask_email

bp = Blueprint("admin", __name__, url_prefix="/admin")

FAILED_LIMIT = 200


bp.before_request(check_admin_page)


# Globals, not a context processor: the imported admin_nav macro sees globals only.
bp.record_once(
    lambda state: state.app.jinja_env.globals.update(admin_may=admin_may, mask_email=mask_email)
)


def _me() -> Actor:
    user: Actor = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _var_dir() -> str:
    return str(current_app.config["VAR_DIR"])


# --- overview --------------------------------------------------------------------------------


@bp.route("/")
def index() -> str:
    counts = {
        "departments": db.session.scalar(
            select(func.count()).select_from(Org).where(Org.kind == OrgKind.DEPARTMENT.value)
        ),
        "units": db.session.scalar(
            select(func.count()).select_from(Org).where(Org.kind == OrgKind.UNIT.value)
        ),
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "disabled": db.session.scalar(
            select(func.count()).select_from(User).where(User.active.is_(False))
        ),
        "cycles": db.session.scalar(select(func.count()).select_from(Cycle)),
        "failed": db.session.scalar(
            select(func.count()).select_from(ReminderClaim).where(ReminderClaim.status == "failed")
        ),
        "schemes": len(admin_ops.list_schemes(_var_dir())),
        "pending_admins": db.session.scalar(
            select(func.count()).select_from(AdminRequest).where(AdminRequest.status == "pending")
        ),
    }
    return render_template("admin/index.html", counts=counts)


# --- organisations ---------------------------------------------------------------------------


def _department_choices() -> list[tuple[int, str]]:
    departments = db.session.scalars(
        select(Org).where(Org.kind == OrgKind.DEPARTMENT.value).order_by(Org.name)
    )
    return options([(0, "（无）"), *((d.id, d.name) for d in departments)])


@bp.route("/orgs", methods=["GET", "POST"])
def orgs() -> Response | str:
    form = OrgForm()
    form.parent_id.choices = _department_choices()
    error = None
    if form.validate_on_submit():
        parent = db.session.get(Org, form.parent_id.data) if form.parent_id.data else None
        try:
            org = admin_ops.create_org(
                name=form.name.data or "",
                kind=form.kind.data or "",
                parent=parent,
                code=form.code.data,
            )
        except admin_ops.AdminError as exc:
            db.session.rollback()
            error = apply_error(form, exc)
        else:
            flash(f"已创建{org.kind_label}：{org.name}", "success")
            return redirect(url_for("admin.orgs"))
    user_counts = dict(
        db.session.execute(select(User.org_id, func.count()).group_by(User.org_id)).all()
    )
    status = 422 if form.is_submitted() else 200
    return render_template(
        "admin/orgs.html",
        form=form,
        tree=admin_ops.org_tree(),
        user_counts=user_counts,
        error=error,
    ), status


# --- cycles ----------------------------------------------------------------------------------


@bp.route("/cycles")
def cycles() -> str:
    items = list(db.session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id.desc())))
    counts = dict(
        db.session.execute(
            select(Evaluation.cycle_id, func.count()).group_by(Evaluation.cycle_id)
        ).all()
    )
    return render_template("admin/cycles.html", cycles=items, counts=counts)


def _cycle_values(form: CycleForm) -> dict[str, Any]:
    assert form.year.data is not None
    assert form.deadline_submit.data and form.deadline_review.data and form.deadline_confirm.data
    return {
        "year": form.year.data,
        "name": form.name.data or "",
        "deadline_submit": form.deadline_submit.data,
        "deadline_review": form.deadline_review.data,
        "deadline_confirm": form.deadline_confirm.data,
        "reminder_days": admin_ops.parse_ladder(form.reminder_days.data or ""),
        "day_kind": form.day_kind.data or "",
    }


@bp.route("/cycles/new", methods=["GET", "POST"])
def cycle_new() -> Response | str:
    form = CycleForm()
    schemes = admin_ops.list_schemes(_var_dir())
    form.scheme_key.choices = options(
        (s.key, f"{s.title}（{s.key}，{s.version}）") for s in schemes
    )
    error = None
    if form.validate_on_submit():
        try:
            values = _cycle_values(form)
            key = form.scheme_key.data or ""
            cycle = admin_ops.create_cycle(
                scheme_key=key,
                scheme=admin_ops.get_scheme(_var_dir(), key),
                active=bool(form.active.data),
                **values,
            )
        except admin_ops.AdminError as exc:
            db.session.rollback()
            error = apply_error(form, exc)
        else:
            flash(f"已创建评价任务：{cycle.name}", "success")
            return redirect(url_for("admin.cycles"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/cycle_form.html", form=form, cycle=None, error=error), status


@bp.route("/cycles/<int:cycle_id>", methods=["GET", "POST"])
def cycle_edit(cycle_id: int) -> Response | str:
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        abort(404)
    form = CycleForm(obj=cycle)
    if not form.is_submitted():
        form.reminder_days.data = ", ".join(str(d) for d in cycle.reminder_days or [])
    # The scheme is fixed once the cycle exists (evaluations hold a copy of it).
    form.scheme_key.choices = options(
        [(cycle.scheme_key, f"{cycle.scheme_key}（{cycle.scheme_version}）")]
    )
    form.scheme_key.data = cycle.scheme_key
    error = None
    if form.validate_on_submit():
        try:
            admin_ops.update_cycle(cycle, active=bool(form.active.data), **_cycle_values(form))
        except admin_ops.AdminError as exc:
            db.session.rollback()
            error = apply_error(form, exc)
        else:
            flash(f"已保存评价任务：{cycle.name}", "success")
            return redirect(url_for("admin.cycles"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/cycle_form.html", form=form, cycle=cycle, error=error), status


# --- schemes ---------------------------------------------------------------------------------


@bp.route("/schemes", methods=["GET", "POST"])
def schemes() -> Response | str:
    form = SchemeUploadForm()
    problems: list[str] = []
    uploaded_name = None
    if form.validate_on_submit():
        upload: FileStorage = form.file.data
        uploaded_name = upload.filename or ""
        data, problems = admin_ops.parse_scheme_upload(uploaded_name, upload.read())
        if not problems and data is not None:
            try:
                info = admin_ops.save_scheme(_var_dir(), data)
            except admin_ops.AdminError as exc:
                problems = [exc.message]
            else:
                flash(f"指标体系“{info.title}”（{info.key}）校验通过并已保存", "success")
                return redirect(url_for("admin.schemes"))
    status = 422 if form.is_submitted() and (problems or form.errors) else 200
    return render_template(
        "admin/schemes.html",
        form=form,
        schemes=admin_ops.list_schemes(_var_dir()),
        problems=problems,
        uploaded_name=uploaded_name,
    ), status


# --- import ----------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
def import_form() -> Response | str:
    form = ImportForm()
    form.cycle_id.choices = options(
        (c.id, c.name)
        for c in db.session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id))
    )
    form.unit_id.choices = options(
        (u.id, u.name)
        for u in db.session.scalars(
            select(Org).where(Org.kind == OrgKind.UNIT.value).order_by(Org.name)
        )
    )
    result: Any = None
    evaluation = None
    read_error = None
    if form.validate_on_submit():
        upload: FileStorage = form.file.data
        name = secure_filename(upload.filename or "") or "form.txt"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            upload.save(path)
            try:
                result = scoring.import_form(path)
            except scoring.FormReadError as exc:
                read_error = str(exc)
        if result is not None:
            cycle = db.session.get(Cycle, form.cycle_id.data)
            unit = db.session.get(Org, form.unit_id.data)
            assert cycle is not None and unit is not None  # the choices hold only existing rows
            try:
                evaluation = admin_ops.import_form_draft(
                    result,
                    cycle=cycle,
                    unit=unit,
                    fallback_name=Path(upload.filename or name).stem,
                    actor=_me(),
                )
                db.session.commit()
            except admin_ops.AdminError as exc:
                db.session.rollback()
                read_error = apply_error(form, exc)
                evaluation = None
    if read_error:
        form.file.errors = [*form.file.errors, f"无法读取该表：{read_error}"]  # type: ignore[attr-defined]
    status = 422 if form.is_submitted() and evaluation is None else 200
    return render_template(
        "admin/import.html",
        form=form,
        result=result,
        evaluation=evaluation,
        project=db.session.get(Project, evaluation.project_id) if evaluation else None,
        evaluation_url=_evaluation_url(evaluation.id) if evaluation else None,
    ), status


def _evaluation_url(evaluation_id: int) -> str:
    return url_for("evaluations.detail", evaluation_id=evaluation_id)


# --- failed reminders ------------------------------------------------------------------------


@bp.route("/reminders")
def reminders() -> str:
    rows = db.session.execute(
        select(ReminderClaim, User.username, User.name, User.email, Project.name, Org.name)
        .join(User, User.id == ReminderClaim.user_id)
        .join(Evaluation, Evaluation.id == ReminderClaim.evaluation_id)
        .join(Project, Project.id == Evaluation.project_id)
        .join(Org, Org.id == Evaluation.unit_id)
        .where(ReminderClaim.status == "failed")
        .order_by(ReminderClaim.claimed_at.desc(), ReminderClaim.id.desc())
        .limit(FAILED_LIMIT)
    ).all()
    stage_labels = {key: label for key, (label, _states) in STAGES.items()}
    stage_labels["notify"] = "流程通知"
    return render_template(
        "admin/reminders.html",
        rows=rows,
        limit=FAILED_LIMIT,
        stage_labels=stage_labels,
        form=ConfirmForm(),
    )


def _resend(claim_ids: list[int] | None) -> Response:
    from workflow.reminders.delivery import resend_failed
    from workflow.reminders.tasks import enqueue_from_request

    if not ConfirmForm().validate_on_submit():
        flash(EXPIRED, "danger")
        return redirect(url_for("admin.reminders"))
    taken = resend_failed(_me(), claim_ids)
    enqueue_from_request(taken)
    if taken:
        flash(f"已重新发送 {len(taken)} 封邮件（已记入审计日志）", "success")
    else:
        flash("没有可重新发送的邮件（可能已由他人重新发送）", "warning")
    return redirect(url_for("admin.reminders"))


@bp.route("/reminders/<int:claim_id>/resend", methods=["POST"])
def resend_reminder(claim_id: int) -> Response:
    return _resend([claim_id])


@bp.route("/reminders/resend-all", methods=["POST"])
def resend_all_reminders() -> Response:
    return _resend(None)
