from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import bindparam, select
from werkzeug.wrappers import Response

from workflow.auth.forms import LoginForm, PasswordForm
from workflow.core.audit import record_security_event
from workflow.core.database import begin_write
from workflow.core.extensions import db, limiter, login_manager
from workflow.core.inputs import parse_int
from workflow.models import Org, OrgRef, SessionUser, User

bp = Blueprint("auth", __name__)


_users = User.__table__
_orgs = Org.__table__
# The user with its organisation in one statement (every page's header names it), built once.
_USER_WITH_ORG = (
    select(
        _users.c.id,
        _users.c.username,
        _users.c.name,
        _users.c.email,
        _users.c.role,
        _users.c.org_id,
        _users.c.active,
        _users.c.session_token,
        _users.c.must_change_password,
        _orgs.c.name,
        _orgs.c.kind,
        _orgs.c.parent_id,
    )
    .join_from(_users, _orgs, _orgs.c.id == _users.c.org_id)
    .where(_users.c.id == bindparam("uid"))
)


def load_user_from_id(value: str) -> SessionUser | None:
    # The id carries the session token: a rotated token (logout elsewhere, password change,
    # disabled account) turns every older cookie into an anonymous visitor.
    user_id, _, token = value.partition(":")
    uid = parse_int(user_id)
    if uid is None or not token:
        return None
    row = db.session.connection().execute(_USER_WITH_ORG, {"uid": uid}).first()
    if row is None:
        return None
    id_, username, name, email, role, org_id, active, session_token, must_change, *org = row
    if not active or not secrets.compare_digest(session_token.encode(), token.encode()):
        return None
    return SessionUser(
        id_,
        username,
        name,
        email,
        role,
        org_id,
        active,
        session_token,
        OrgRef(org_id, *org),
        must_change_password=bool(must_change),
    )


def _login_limit() -> str:
    return str(current_app.config.get("LOGIN_RATE_LIMIT", "10 per minute"))


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="登录尝试过于频繁，请稍后再试")
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and user.check_password(form.password.data):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("home.index"))
        error = "用户名或密码错误，或账号已停用"
    return render_template("auth/login.html", form=form, error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    begin_write()
    user = db.session.get(User, current_user.id)
    if user is not None:
        user.rotate_session()
        db.session.commit()
    logout_user()
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Response | str:
    form = PasswordForm()
    if form.validate_on_submit():
        begin_write()
        user = db.session.get(User, current_user.id)
        assert user is not None
        if not user.check_password(form.current.data):
            form.current.errors.append("当前密码不正确")
        else:
            user.set_password(form.new.data)
            user.must_change_password = False
            record_security_event(
                "password_change", user=user, outcome="success", object=f"user:{user.username}"
            )
            db.session.commit()
            login_user(user)  # this browser keeps working; every other session ends
            flash("密码已修改，其他设备上的登录已失效", "success")
            return redirect(url_for("home.index"))
    forced = bool(getattr(current_user, "must_change_password", False))
    return render_template("auth/password.html", form=form, forced=forced)


# Pages open to a user who must change a password an administrator set.
_WHILE_FORCED = frozenset({"auth.password", "auth.logout", "static", "bootstrap.static"})


def _force_password_change() -> Response | None:
    """After an administrator set the password (a reset, a new account), nothing opens but
    the change page: the administrator knew that password, the account's owner must not
    keep it, and whatever is done with it before the change would be done in their name."""
    if (
        getattr(current_user, "is_authenticated", False)
        and getattr(current_user, "must_change_password", False)
        and request.endpoint not in _WHILE_FORCED
    ):
        flash("您的密码由管理员设置，请先修改密码", "warning")
        return redirect(url_for("auth.password"))
    return None


def init_app(app: Flask) -> None:
    app.before_request(_force_password_change)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user_from_id)
    app.register_blueprint(bp)
