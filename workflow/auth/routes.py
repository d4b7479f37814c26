from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import bindparam, select
from werkzeug.wrappers import Response

from workflow.auth import operations as ops
from workflow.auth import totp
from workflow.auth.forms import LoginForm, PasswordForm, TotpForm
from workflow.core.database import begin_write, is_read_request
from workflow.core.extensions import db, limiter, login_manager
from workflow.core.inputs import parse_int
from workflow.evaluations import queries
from workflow.home import queries as home_queries
from workflow.models import Org, OrgRef, SessionUser, User

bp = Blueprint("auth", __name__)


_users = User.__table__
_orgs = Org.__table__
# The user with its organisation and the header's counts in one statement (every page's
# header names them), built once.
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
        _users.c.password_changed_at,
        _users.c.must_change_password,
        _orgs.c.name,
        _orgs.c.kind,
        _orgs.c.parent_id,
        *home_queries.header_columns(_users.c.role, _users.c.org_id, _users.c.id),
        queries.org_generation_column(),
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
    id_, username, name, email, role, org_id, active, session_token, changed, must, *org = row
    if not active or not secrets.compare_digest(session_token.encode(), token.encode()):
        return None
    *org, waiting, unread, generation = org
    # What a read request's pages take as read here; any other request reads them afresh.
    if is_read_request():
        home_queries.remember(waiting, unread)
        queries.remember_org_generation(generation)
    else:
        home_queries.forget()
        queries.remember_org_generation(None)
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
        changed,
        bool(must),
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


# How long the step between the password and the second factor may take.
PENDING_SECONDS = 300
FAILED = "用户名或密码错误，或账号已停用、已锁定（连续失败 {n} 次将锁定 {m} 分钟）"


def _failed_message() -> str:
    return FAILED.format(n=ops.max_failures(), m=ops.lock_minutes())


def _finish_login(user: User) -> Response:
    """Both factors passed: a new session (nothing from before the login survives, so a
    planted session cannot be adopted), its start and last-seen times, an audit row."""
    next_url = session.get("next")
    session.clear()
    login_user(user)
    now = int(time.time())
    session["sid"] = secrets.token_hex(16)
    session["login_at"] = now
    session["seen"] = now
    begin_write()
    ops.record_event("login", user)
    db.session.commit()
    return redirect(_safe_next(next_url) or url_for("home.index"))


def _pending_user() -> User | None:
    """The user who passed the password step in this browser, within PENDING_SECONDS."""
    uid, token, at = session.get("mfa_uid"), session.get("mfa_token"), session.get("mfa_at")
    if not isinstance(uid, int) or not token or not isinstance(at, int):
        return None
    if time.time() - at > PENDING_SECONDS:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_token != token:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="登录尝试过于频繁，请稍后再试")
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = ops.check_password(form.username.data or "", form.password.data or "")
        if user is not None:
            if not (user.totp_enabled or ops.mfa_required(user.role)):
                session["next"] = request.args.get("next")
                return _finish_login(user)
            next_url = request.args.get("next")
            session.clear()
            session["mfa_uid"] = user.id
            session["mfa_token"] = user.session_token
            session["mfa_at"] = int(time.time())
            session["next"] = next_url
            return redirect(url_for("auth.second_factor" if user.totp_enabled else "auth.enrol"))
        error = _failed_message()
    return render_template("auth/login.html", form=form, error=error), (401 if error else 200)


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="登录尝试过于频繁，请稍后再试")
def second_factor() -> Response | str:
    user = _pending_user()
    if user is None or not user.totp_enabled:
        flash("请先输入用户名和密码", "warning")
        return redirect(url_for("auth.login"))
    form = TotpForm()
    error = None
    if form.validate_on_submit():
        result = ops.check_second_factor(user.id, user.session_token, form.code.data or "")
        if result.ok:
            if result.used_recovery:
                flash("已使用一个恢复码登录；恢复码每个只能用一次", "warning")
            return _finish_login(user)
        error = result.message
        if ops.is_locked(user):
            session.clear()
    return render_template("auth/verify.html", form=form, error=error), (401 if error else 200)


def _enrolling_user() -> tuple[User | None, bool]:
    """Who enrols: the user between password and second factor, or a signed-in user of an
    optional policy who chose to; and whether they are signed in already."""
    if current_user.is_authenticated:
        return db.session.get(User, current_user.id), True
    return _pending_user(), False


@bp.route("/login/totp-setup", methods=["GET", "POST"])
def enrol() -> Response | str:
    user, signed_in = _enrolling_user()
    if user is None:
        flash("请先输入用户名和密码", "warning")
        return redirect(url_for("auth.login"))
    if user.totp_enabled:
        return redirect(url_for("home.index" if signed_in else "auth.second_factor"))
    form = TotpForm()
    error = None
    if form.validate_on_submit() and user.totp_secret:
        try:
            codes = ops.confirm_enrolment(user, form.code.data or "")
        except ops.AuthError as exc:
            error = exc.message
        else:
            if not signed_in:
                _finish_login(user)
            return render_template("auth/recovery_codes.html", codes=codes)
    secret = user.totp_secret if form.is_submitted() and user.totp_secret else None
    if secret is None:
        secret = ops.start_enrolment(user)
    uri = totp.provisioning_uri(secret, user.username, "绩效自评系统")
    return render_template(
        "auth/enrol.html",
        form=form,
        error=error,
        secret=secret,
        qr=Markup(totp.qr_svg(uri)),  # noqa: S704 - segno's own SVG of our URI
        required=ops.mfa_required(user.role),
    ), (422 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    begin_write()
    user = db.session.get(User, current_user.id)
    if user is not None:
        user.rotate_session()
        ops.record_event("logout", user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Response | str:
    form = PasswordForm()
    if form.validate_on_submit():
        user = db.session.get(User, current_user.id)
        assert user is not None
        try:
            ops.change_password(user, form.current.data or "", form.new.data or "")
        except ops.AuthError as exc:
            db.session.rollback()
            (form.current if "当前密码" in exc.message else form.new).errors.append(exc.message)
        else:
            login_user(user)  # this browser keeps working; every other session ends
            flash("密码已修改，其他设备上的登录已失效", "success")
            return redirect(url_for("home.index"))
    forced = _change_reason()
    return render_template("auth/password.html", form=form, forced=forced)


def _change_reason() -> str | None:
    if not current_user.is_authenticated:
        return None
    if current_user.must_change_password:
        return "首次登录或密码被重设后，须先修改密码。"
    if ops.password_expired(current_user.password_changed_at):
        return "密码已超过有效期，请修改密码。"
    return None


# Pages a user who must change the password (or sign in again) may still reach.
_OPEN_ENDPOINTS = frozenset(
    {"auth.password", "auth.logout", "auth.login", "auth.enrol", "static", "bootstrap.static"}
)


def _check_session() -> Response | None:
    """Before every request: the idle timeout and the absolute lifetime of the session,
    checked here on the server from the signed session and its server-side token; then the
    forced password change."""
    if request.endpoint in ("static", "bootstrap.static") or not current_user.is_authenticated:
        return None  # assets load no user
    now = int(time.time())
    login_at, seen = session.get("login_at"), session.get("seen")
    idle = int(current_app.config["SESSION_IDLE_MINUTES"]) * 60
    lifetime = int(current_app.config["SESSION_MAX_HOURS"]) * 3600
    expired = (
        not isinstance(login_at, int)
        or not isinstance(seen, int)
        or now - seen > idle
        or now - login_at > lifetime
    )
    if expired:
        begin_write()
        user = db.session.get(User, current_user.id)
        if user is not None:
            user.rotate_session()  # the expired cookie stays useless if replayed
            ops.record_event("session_timeout", user, detail="空闲超时或超过会话最长时间")
        db.session.commit()
        logout_user()
        session.clear()
        flash("登录已超时，请重新登录", "warning")
        return redirect(
            url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        )
    if now - seen >= 15:  # refreshed a few times a minute, not a new cookie every request
        session["seen"] = now
    if request.endpoint not in _OPEN_ENDPOINTS and _change_reason() is not None:
        return redirect(url_for("auth.password"))
    return None


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user_from_id)
    app.before_request(_check_session)
    app.register_blueprint(bp)
