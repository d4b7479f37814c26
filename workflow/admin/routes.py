"""系统管理: organisations, users, cycles, schemes, form import, failed reminders, and the
security administrator's resets, roles and administrator requests.

三员分立: each page names the administrators it serves (``ENDPOINT_ROLES``): the system
administrator (organisations, cycles, frameworks, business users), the security administrator
(roles, resets, locks); requests for a new administrator are made by one and approved by
another. Everyone else gets 404 (the page "does not exist" for them), so the area does not
even reveal itself; the audit administrator has the audit pages (workflow/audit) only.
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
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

import scoring
from workflow import policy
from workflow.admin import operations as admin_ops
from workflow.admin.forms import (
    AdminRequestForm,
    ConfirmForm,
    CycleForm,
    ImportForm,
    OrgForm,
    ResetPasswordForm,
    RoleForm,
    SchemeUploadForm,
    UserForm,
    options,
)
from workflow.core.extensions import db
from workflow.machine import ADMIN_ROLES, ROLE_LABELS, Role
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
EXPIRED = "页面已过期，请刷新后重试"


SYS = frozenset({Role.SYSADMIN})
SEC = frozenset({Role.SECADMIN})
BOTH = frozenset({Role.SYSADMIN, Role.SECADMIN})
# Which administrators each page serves; a page missing here is served to nobody.
ENDPOINT_ROLES: dict[str, frozenset[Role]] = {
    "admin.index": BOTH,
    "admin.orgs": SYS,
    "admin.users": BOTH,  # the security administrator resets, changes roles; sees the list
    "admin.disable_user": SYS,
    "admin.enable_user": SYS,
    "admin.reset_password": SEC,
    "admin.unlock_user": SEC,
    "admin.reset_totp": SEC,
    "admin.change_role": SEC,
    "admin.admins": BOTH,
    "admin.approve_admin": BOTH,
    "admin.reject_admin": BOTH,
    "admin.cycles": SYS,
    "admin.cycle_new": SYS,
    "admin.cycle_edit": SYS,
    "admin.schemes": SYS,
    "admin.import_form": SYS,
    "admin.reminders": SYS,
    "admin.resend_reminder": SYS,
    "admin.resend_all_reminders": SYS,
}


@bp.before_request
@login_required
def _admin_only() -> None:
    allowed = ENDPOINT_ROLES.get(request.endpoint or "", frozenset())
    if not policy.is_role(current_user, *allowed):
        abort(404)


def admin_may(endpoint: str) -> bool:
    """Whether the signed-in user may open this admin page (the tabs and buttons ask)."""
    return policy.is_role(current_user, *ENDPOINT_ROLES.get(endpoint, frozenset()))


# Globals, not a context processor: the imported admin_nav macro sees globals only.
bp.record_once(
    lambda state: state.app.jinja_env.globals.update(admin_may=admin_may, mask_email=mask_email)
)


def _me() -> Actor:
    user: Actor = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _apply_error(form: FlaskForm, exc: admin_ops.AdminError) -> str | None:
    """Put the error next to its field; return it when it belongs to no field."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]  # type: ignore[attr-defined]
        return None
    return exc.message


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
            error = _apply_error(form, exc)
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


# --- users -----------------------------------------------------------------------------------


def _org_choices() -> list[tuple[int, str]]:
    choices: list[tuple[int, str]] = []
    for top, units in admin_ops.org_tree():
        choices.append((top.id, f"{top.name}（{top.kind_label}）"))
        choices.extend((u.id, f"　└ {u.name}") for u in units)
    return options(choices)


@bp.route("/users", methods=["GET", "POST"])
def users() -> Response | str:
    if request.method == "POST" and not policy.is_role(current_user, Role.SYSADMIN):
        abort(404)  # business users are the system administrator's
    form = UserForm()
    form.org_id.choices = _org_choices()
    error = None
    if form.validate_on_submit():
        org = db.session.get(Org, form.org_id.data)
        try:
            if org is None:
                raise admin_ops.AdminError("请选择所属机构", "org_id")
            user = admin_ops.create_user(
                username=form.username.data or "",
                name=form.name.data or "",
                role=form.role.data or "",
                org=org,
                email=form.email.data or None,
                password=form.password.data or "",
            )
        except admin_ops.AdminError as exc:
            db.session.rollback()
            error = _apply_error(form, exc)
        else:
            flash(f"已创建用户 {user.username}", "success")
            return redirect(url_for("admin.users"))
    rows = db.session.execute(
        select(User, Org.name).join(Org, Org.id == User.org_id).order_by(Org.name, User.username)
    ).all()
    status = 422 if form.is_submitted() else 200
    from workflow.auth import operations as auth_ops

    return render_template(
        "admin/users.html",
        form=form,
        rows=rows,
        error=error,
        action_form=ConfirmForm(),
        is_locked=auth_ops.is_locked,
        business_roles=[(r.value, ROLE_LABELS[r]) for r in Role if r not in ADMIN_ROLES],
        admin_roles=ADMIN_ROLES,
    ), status


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
def disable_user(user_id: int) -> Response:
    user = _user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        try:
            admin_ops.disable_user(user, actor=_me())
        except admin_ops.AdminError as exc:
            flash(exc.message, "danger")
        else:
            flash(f"已停用 {user.username}，其所有登录已失效", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
def enable_user(user_id: int) -> Response:
    user = _user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        admin_ops.enable_user(user)
        flash(f"已启用 {user.username}", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
def unlock_user(user_id: int) -> Response:
    """The security administrator's unlock of an account locked by failed logins."""
    from workflow.auth import operations as auth_ops

    user = _user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        auth_ops.unlock(user, actor=db.session.get(User, _me().id), by="管理页面")
        flash(f"已解锁 {user.username}", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/totp-reset", methods=["POST"])
def reset_totp(user_id: int) -> Response:
    """Remove a lost second factor; the owner binds a new one at the next login."""
    from workflow.auth import operations as auth_ops

    user = _user_or_404(user_id)
    me = db.session.get(User, _me().id)
    if ConfirmForm().validate_on_submit() and me is not None:
        auth_ops.reset_second_factor(user, actor=me)
        flash(f"已重置 {user.username} 的动态口令，其下次登录时须重新绑定", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int) -> Response | str:
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            new = admin_ops.reset_password(user, form.password.data or None, actor=_me())
        except admin_ops.AdminError as exc:
            _apply_error(form, exc)
        else:
            if form.password.data:
                flash(f"已重设 {user.username} 的密码，其所有登录已失效", "success")
            else:
                flash(
                    f"已为 {user.username} 生成新密码：{new}（只显示这一次），其所有登录已失效",
                    "success",
                )
            return redirect(url_for("admin.users"))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/password.html", form=form, user=user), status


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def change_role(user_id: int) -> Response:
    user = _user_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            admin_ops.change_role(_me(), user, form.role.data or "")
        except admin_ops.AdminError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            flash(f"已将 {user.username} 的角色改为 {user.role_label}，其所有登录已失效", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("admin.users"))


# --- administrators: requested by one, approved by another -------------------------------------


def _finance_choices() -> list[tuple[int, str]]:
    return options(
        (o.id, o.name)
        for o in db.session.scalars(
            select(Org).where(Org.kind == OrgKind.FINANCE.value).order_by(Org.name)
        )
    )


@bp.route("/admins", methods=["GET", "POST"])
def admins() -> Response | str:
    form = AdminRequestForm()
    form.role.choices = options((r.value, ROLE_LABELS[r]) for r in Role if r in ADMIN_ROLES)
    form.org_id.choices = _finance_choices()
    error = None
    if form.validate_on_submit():
        org = db.session.get(Org, form.org_id.data)
        try:
            if org is None:
                raise admin_ops.AdminError("请选择所属机构", "org_id")
            req = admin_ops.request_admin(
                _me(),
                username=form.username.data or "",
                name=form.name.data or "",
                role=form.role.data or "",
                org=org,
            )
        except admin_ops.AdminError as exc:
            db.session.rollback()
            error = _apply_error(form, exc)
        else:
            flash(f"已提交创建管理员 {req.username} 的申请，须由另一名管理员批准", "success")
            return redirect(url_for("admin.admins"))
    requests = db.session.scalars(
        select(AdminRequest).order_by(AdminRequest.id.desc()).limit(100)
    ).all()
    names = dict(db.session.execute(select(User.id, User.username)).all())
    status = 422 if form.is_submitted() else 200
    return render_template(
        "admin/admins.html",
        form=form,
        requests=requests,
        names=names,
        error=error,
        role_labels={r.value: ROLE_LABELS[r] for r in Role},
        action_form=ConfirmForm(),
    ), status


@bp.route("/admins/<int:request_id>/approve", methods=["POST"])
def approve_admin(request_id: int) -> Response:
    if ConfirmForm().validate_on_submit():
        try:
            user, password = admin_ops.approve_request(_me(), request_id)
        except admin_ops.AdminError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            flash(
                f"已批准并创建 {user.role_label} {user.username}，初始密码：{password}"
                "（只显示这一次，首次登录须修改）",
                "success",
            )
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("admin.admins"))


@bp.route("/admins/<int:request_id>/reject", methods=["POST"])
def reject_admin(request_id: int) -> Response:
    if ConfirmForm().validate_on_submit():
        try:
            admin_ops.reject_request(_me(), request_id)
        except admin_ops.AdminError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            flash("已驳回该申请", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("admin.admins"))


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
            error = _apply_error(form, exc)
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
            error = _apply_error(form, exc)
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
                read_error = _apply_error(form, exc)
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
