"""账号管理: business users (the system administrator's), roles, locks, second factors and
password resets (the security administrator's), and administrators requested by one
administrator and approved by another. Served under /admin beside the other administration
pages, with the same rule: each page names the administrators it serves
(workflow/admin/access.py) and everyone else gets 404.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow import policy
from workflow.accounts import operations as accounts_ops
from workflow.accounts.forms import AdminRequestForm, ResetPasswordForm, RoleForm, UserForm
from workflow.admin import operations as admin_ops
from workflow.admin.access import EXPIRED, apply_error, check_admin_page
from workflow.admin.forms import ConfirmForm, options
from workflow.admin.operations import AdminError
from workflow.core.extensions import db
from workflow.machine import ADMIN_ROLES, ROLE_LABELS, Role
from workflow.models import (
    Actor,
    AdminRequest,
    Org,
    OrgKind,
    User,
)

bp = Blueprint("accounts", __name__, url_prefix="/admin")
bp.before_request(check_admin_page)


def _me() -> Actor:
    user: Actor = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


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
                raise AdminError("请选择所属机构", "org_id")
            user = accounts_ops.create_user(
                username=form.username.data or "",
                name=form.name.data or "",
                role=form.role.data or "",
                org=org,
                email=form.email.data or None,
                password=form.password.data or "",
            )
        except AdminError as exc:
            db.session.rollback()
            error = apply_error(form, exc)
        else:
            flash(f"已创建用户 {user.username}", "success")
            return redirect(url_for("accounts.users"))
    rows = db.session.execute(
        select(User, Org.name).join(Org, Org.id == User.org_id).order_by(Org.name, User.username)
    ).all()
    status = 422 if form.is_submitted() else 200
    from workflow.auth import operations as auth_ops

    return render_template(
        "accounts/users.html",
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
            accounts_ops.disable_user(user, actor=_me())
        except AdminError as exc:
            flash(exc.message, "danger")
        else:
            flash(f"已停用 {user.username}，其所有登录已失效", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("accounts.users"))


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
def enable_user(user_id: int) -> Response:
    user = _user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        accounts_ops.enable_user(user)
        flash(f"已启用 {user.username}", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("accounts.users"))


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
    return redirect(url_for("accounts.users"))


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
    return redirect(url_for("accounts.users"))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def reset_password(user_id: int) -> Response | str:
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            new = accounts_ops.reset_password(user, form.password.data or None, actor=_me())
        except AdminError as exc:
            apply_error(form, exc)
        else:
            if form.password.data:
                flash(f"已重设 {user.username} 的密码，其所有登录已失效", "success")
            else:
                flash(
                    f"已为 {user.username} 生成新密码：{new}（只显示这一次），其所有登录已失效",
                    "success",
                )
            return redirect(url_for("accounts.users"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/password.html", form=form, user=user), status


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def change_role(user_id: int) -> Response:
    user = _user_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            accounts_ops.change_role(_me(), user, form.role.data or "")
        except AdminError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            flash(f"已将 {user.username} 的角色改为 {user.role_label}，其所有登录已失效", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("accounts.users"))


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
                raise AdminError("请选择所属机构", "org_id")
            req = accounts_ops.request_admin(
                _me(),
                username=form.username.data or "",
                name=form.name.data or "",
                role=form.role.data or "",
                org=org,
            )
        except AdminError as exc:
            db.session.rollback()
            error = apply_error(form, exc)
        else:
            flash(f"已提交创建管理员 {req.username} 的申请，须由另一名管理员批准", "success")
            return redirect(url_for("accounts.admins"))
    requests = db.session.scalars(
        select(AdminRequest).order_by(AdminRequest.id.desc()).limit(100)
    ).all()
    names = dict(db.session.execute(select(User.id, User.username)).all())
    status = 422 if form.is_submitted() else 200
    return render_template(
        "accounts/admins.html",
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
            user, password = accounts_ops.approve_request(_me(), request_id)
        except AdminError as exc:
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
    return redirect(url_for("accounts.admins"))


@bp.route("/admins/<int:request_id>/reject", methods=["POST"])
def reject_admin(request_id: int) -> Response:
    if ConfirmForm().validate_on_submit():
        try:
            accounts_ops.reject_request(_me(), request_id)
        except AdminError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            flash("已驳回该申请", "success")
    else:
        flash(EXPIRED, "danger")
    return redirect(url_for("accounts.admins"))
