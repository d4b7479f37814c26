"""User accounts: business users created by the system administrator, administrators
requested by one administrator and approved by another (三员分立), roles, disabling and
password resets by the security administrator.

Each function checks its input, raises AdminError (Chinese message, optionally naming the
field it is about) and commits on success: one commit per request or command.
"""

import re

from sqlalchemy import func, select

from workflow.admin.operations import AdminError, admin_event
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.machine import ADMIN_ROLES, Role
from workflow.models import (
    Actor,
    AdminRequest,
    Notice,
    Org,
    OrgKind,
    User,
    utcnow,
)
from workflow.models.org import ORG_KIND_LABELS

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
SCHEME_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ROLE_ORG_KINDS = {
    Role.UNIT_STAFF: OrgKind.UNIT,
    Role.UNIT_HEAD: OrgKind.UNIT,
    Role.REVIEWER: OrgKind.DEPARTMENT,
    Role.FINANCE: OrgKind.FINANCE,
    Role.SYSADMIN: OrgKind.FINANCE,
    Role.SECADMIN: OrgKind.FINANCE,
    Role.AUDITOR: OrgKind.FINANCE,
}
# The administrators who may request and approve a new administrator (the auditor reads the
# logs and nothing else).
APPROVERS = frozenset({Role.SYSADMIN, Role.SECADMIN})
ALONE = "管理员账号须由一名管理员申请、另一名管理员批准后创建"


# --- users -----------------------------------------------------------------------------------


def create_user(
    *,
    username: str,
    name: str,
    role: str,
    org: Org,
    email: str | None,
    password: str,
    bootstrap: bool = False,
) -> User:
    """A business user. Administrators come from approved requests (approve_request), or,
    with ``bootstrap`` (the command line), while fewer than two exist who could approve."""
    begin_write()
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AdminError("用户名只能包含字母、数字、下划线、点和连字符（2–64 个字符）", "username")
    if (
        db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        is not None
    ):
        raise AdminError(f"用户名 {username} 已存在", "username")
    _check_password(None, username, password)
    try:
        expected = ROLE_ORG_KINDS[Role(role)]
    except ValueError:
        raise AdminError("角色无效", "role") from None
    if org.kind != expected:
        raise AdminError(f"该角色须属于{ORG_KIND_LABELS[expected]}", "org_id")
    if Role(role) in ADMIN_ROLES and not (bootstrap and approvers_count() < 2):
        raise AdminError(ALONE, "role")
    user = User(
        username=username, name=name.strip() or username, role=role, org=org, email=email or None
    )
    # A password someone else chose: its owner changes it at the first login.
    user.set_password(password, forced_change=True)
    db.session.add(user)
    admin_event("create_user", f"user:{username}", {"role": role, "bootstrap": bootstrap})
    db.session.commit()
    return user


def approvers_count() -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role.in_([r.value for r in APPROVERS]), User.active.is_(True))
        )
        or 0
    )


def _is(actor: Actor, roles: frozenset[Role]) -> bool:
    return bool(actor.is_active) and Role(actor.role) in roles


def request_admin(actor: Actor, *, username: str, name: str, role: str, org: Org) -> AdminRequest:
    """One administrator asks for a new administrator account; a second must approve."""
    begin_write()
    if not _is(actor, APPROVERS):
        raise AdminError("只有系统管理员或安全管理员可以申请创建管理员")
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AdminError("用户名只能包含字母、数字、下划线、点和连字符（2–64 个字符）", "username")
    try:
        wanted = Role(role)
    except ValueError:
        raise AdminError("角色无效", "role") from None
    if wanted not in ADMIN_ROLES:
        raise AdminError("这里只申请管理员账号；业务用户在“用户”页创建", "role")
    if org.kind != OrgKind.FINANCE:
        raise AdminError("管理员须属于财政部门", "org_id")
    taken = db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower()))
    pending = db.session.scalar(
        select(AdminRequest.id).where(
            func.lower(AdminRequest.username) == username.lower(), AdminRequest.status == "pending"
        )
    )
    if taken is not None or pending is not None:
        raise AdminError(f"用户名 {username} 已存在或已在申请中", "username")
    req = AdminRequest(
        username=username,
        name=name.strip() or username,
        role=wanted.value,
        org_id=org.id,
        requested_by_id=actor.id,
    )
    db.session.add(req)
    admin_event(
        "request_admin",
        f"user:{username}",
        {"role": wanted.value, "requested_by": actor.username},
        kind="admin_request",
        actor=actor,
    )
    db.session.commit()
    return req


def _pending(request_id: int) -> AdminRequest:
    req = db.session.get(AdminRequest, request_id)
    if req is None or req.status != "pending":
        raise AdminError("该申请不存在或已处理")
    return req


def approve_request(actor: Actor, request_id: int) -> tuple[User, str]:
    """A second administrator approves: the account is created with a one-time password that
    must be changed at the first login. Returns the user and that password."""
    begin_write()
    if not _is(actor, APPROVERS):
        raise AdminError("只有系统管理员或安全管理员可以批准")
    req = _pending(request_id)
    if req.requested_by_id == actor.id:
        raise AdminError("不能批准自己提出的申请：须由另一名管理员批准")
    requester = db.session.get(User, req.requested_by_id)
    org = db.session.get(Org, req.org_id)
    assert org is not None
    from workflow.auth import passwords

    password = passwords.generate()
    user = User(username=req.username, name=req.name, role=req.role, org=org)
    user.set_password(password, forced_change=True)
    db.session.add(user)
    db.session.flush()
    req.status = "approved"
    req.decided_by_id = actor.id
    req.decided_at = utcnow()
    req.user_id = user.id
    admin_event(
        "approve_admin",
        f"user:{req.username}",
        {
            "role": req.role,
            "requested_by": requester.username if requester else "",
            "approved_by": actor.username,
        },
        kind="admin_approve",
        actor=actor,
    )
    db.session.commit()
    return user, password


def reject_request(actor: Actor, request_id: int) -> AdminRequest:
    begin_write()
    if not _is(actor, APPROVERS):
        raise AdminError("只有系统管理员或安全管理员可以驳回")
    req = _pending(request_id)
    req.status = "rejected"
    req.decided_by_id = actor.id
    req.decided_at = utcnow()
    admin_event(
        "reject_admin",
        f"user:{req.username}",
        {"role": req.role, "rejected_by": actor.username},
        kind="admin_reject",
        actor=actor,
    )
    db.session.commit()
    return req


def change_role(actor: Actor, user: User, role: str) -> User:
    """The security administrator moves a business user to another business role (of the
    same organisation kind). Administrator roles are never given this way."""
    begin_write()
    if not _is(actor, frozenset({Role.SECADMIN})):
        raise AdminError("只有安全管理员可以变更角色")
    try:
        wanted = Role(role)
    except ValueError:
        raise AdminError("角色无效", "role") from None
    if wanted in ADMIN_ROLES or Role(user.role) in ADMIN_ROLES:
        raise AdminError(ALONE, "role")
    if ROLE_ORG_KINDS[wanted] != ROLE_ORG_KINDS[Role(user.role)]:
        raise AdminError(f"该角色须属于{ORG_KIND_LABELS[ROLE_ORG_KINDS[wanted]]}", "role")
    before = user.role
    user.role = wanted.value
    user.rotate_session()
    admin_event(
        "change_role",
        f"user:{user.username}",
        {"from": before, "to": wanted.value},
        kind="role_change",
        actor=actor,
    )
    db.session.commit()
    return user


def _check_password(user: User | None, username: str, password: str) -> None:
    from workflow.auth import operations as auth_ops

    found = auth_ops.password_problems(user, username, password)
    if found:
        raise AdminError("；".join(found), "password")


def disable_user(user: User, *, actor: Actor | None = None) -> User:
    """Disable an account; rotating the session token ends every session it had."""
    begin_write()
    if actor is not None and actor.id == user.id:
        raise AdminError("不能停用自己的账号")
    user.active = False
    user.rotate_session()
    admin_event("disable_user", f"user:{user.username}", actor=actor)
    db.session.commit()
    return user


def enable_user(user: User) -> User:
    begin_write()
    user.active = True
    user.rotate_session()
    admin_event("enable_user", f"user:{user.username}")
    db.session.commit()
    return user


def reset_password(user: User, password: str | None = None, *, actor: Actor | None = None) -> str:
    """Set a new password (a random one when none is given) and end every session.

    Whoever set it knows it: the owner must change it at the next login before anything else,
    the reset is audited with both names, and the owner gets a notice saying who reset it."""
    from workflow.auth import operations as auth_ops
    from workflow.auth import passwords

    begin_write()
    if actor is not None and actor.id == user.id:
        raise AdminError("不能在这里重设自己的密码，请用“修改密码”")
    new = password or passwords.generate()
    _check_password(user, user.username, new)
    user.set_password(new, forced_change=True)  # rotates the session token as well
    by = db.session.get(User, actor.id) if actor is not None else None
    by_text = f"{by.name}（{by.username}）" if by else "命令行"
    db.session.add(
        Notice(
            user_id=user.id,
            kind="password_reset",
            title="您的密码已被管理员重设",
            body=f"{by_text} 重设了您的密码；下次登录须设置新密码。如非您本人申请，请联系安全管理员。",
        )
    )
    auth_ops.record_event("password_reset", user, actor=by, detail="" if by else "由命令行重设")
    db.session.commit()
    return new
