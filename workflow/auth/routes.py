from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response

from workflow.auth.forms import LoginForm, PasswordForm
from workflow.database import begin_write
from workflow.extensions import db, limiter
from workflow.inputs import parse_int
from workflow.models import User

bp = Blueprint("auth", __name__)


# The user with its organisation in one statement (every page's header names it), built once.
_USER_WITH_ORG = (
    select(User).join(User.org).options(contains_eager(User.org)).where(User.id == bindparam("uid"))
)


def load_user_from_id(value: str) -> User | None:
    # The id carries the session token: a rotated token (logout elsewhere, password change,
    # disabled account) turns every older cookie into an anonymous visitor.
    user_id, _, token = value.partition(":")
    uid = parse_int(user_id)
    if uid is None or not token:
        return None
    user = db.session.scalars(_USER_WITH_ORG, {"uid": uid}).first()
    if user is None or not user.active or user.session_token != token:
        return None
    return user


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
            db.session.commit()
            login_user(user)  # this browser keeps working; every other session ends
            flash("密码已修改，其他设备上的登录已失效", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form)
