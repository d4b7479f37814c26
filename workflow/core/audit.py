"""The security-event log (GB/T 22239 §8.1.4.3): one function writes every event.

``record_security_event`` adds the row to the caller's session: it commits with the action it
records, or not at all (fail closed: an audit insert that fails rolls the action back). The
chain value is added in the insert path (core/chain.py). Denied requests (403, and 404 for a
signed-in user: an object the user may not see answers 404 so as not to reveal it) are
recorded by an after-request hook in their own short transaction, after the refused action's
transaction was rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy.orm import Session

from workflow.core.extensions import db
from workflow.machine import Role
from workflow.models import SecurityEvent

log = logging.getLogger(__name__)

# The kinds written by this application; the viewer offers them as a filter. Other kinds are
# allowed (the string is stored as given) but should be added here with a label.
KINDS: dict[str, str] = {
    "login": "登录",
    "login_failed": "登录失败",
    "login_refused_locked": "锁定期间尝试登录",
    "second_factor_failed": "动态口令错误",
    "totp_enrolled": "绑定动态口令",
    "recovery_code_used": "使用恢复码登录",
    "totp_reset": "重置动态口令",
    "lockout": "账号锁定",
    "unlock": "解除锁定",
    "logout": "退出登录",
    "timeout": "会话超时",
    "password_change": "修改密码",
    "password_reset": "管理员重设密码",
    "denied": "拒绝访问",
    "admin_action": "管理操作",
    "admin_request": "申请创建管理员",
    "admin_approve": "批准创建管理员",
    "admin_reject": "驳回创建管理员",
    "role_change": "变更角色",
    "export": "导出",
    "download": "下载",
    "audit_query": "查询审计日志",
    "audit_export": "导出审计日志",
    "audit_archive": "归档审计日志",
    "audit_verify": "校验审计链",
    "key_rotate": "轮换字段密钥",
    "seal": "签章",
    "seal_invalid": "签章校验失败",
}
# Kinds that record a file leaving the system.
ACCESS_KINDS = frozenset({"export", "download", "audit_export"})
OUTCOMES = {"success": "成功", "failure": "失败", "denied": "拒绝"}
MAX_UA = 300
MAX_OBJECT = 300


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def record_security_event(
    kind: str,
    *,
    user: Any,
    outcome: str,
    object: str = "",  # noqa: A002 - the audit field's name
    detail: dict[str, Any] | None = None,
    username: str | None = None,
    session: Session | None = None,
) -> SecurityEvent:
    """Add one security event to the caller's transaction (no flush, no commit).

    ``user``: the acting account (a User or SessionUser), or None for an anonymous or unknown
    one (then pass the ``username`` that was tried). Time, role, IP address and user agent are
    taken from the moment and the current request."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    ip = ua = ""
    if has_request_context():
        # The client's address as the server saw it; behind a gateway, ProxyFix with a fixed
        # hop count makes this the real client (README, 等保/密评).
        ip = request.remote_addr or ""
        ua = _clip(request.headers.get("User-Agent", ""), MAX_UA)
    known = user is not None and getattr(user, "is_authenticated", True) and hasattr(user, "id")
    row = SecurityEvent(
        kind=kind,
        outcome=outcome,
        user_id=user.id if known else None,
        username=_clip(str(user.username if known else (username or "")), 64),
        role=str(user.role) if known else "",
        ip=ip,
        user_agent=ua,
        object=_clip(object, MAX_OBJECT),
        detail=detail or None,
    )
    (session or db.session).add(row)
    if has_request_context() and kind in ACCESS_KINDS:
        g.access_logged = True  # the download hook below adds no second row
    return row


def log_access(kind: str, obj: str, detail: dict[str, Any] | None = None) -> None:
    """Record an export or download by the signed-in user, in its own write transaction,
    before the file is sent (fail closed: no record, no file)."""
    from flask_login import current_user

    from workflow.core.database import begin_write

    begin_write()
    record_security_event(
        kind,
        user=current_user._get_current_object(),  # type: ignore[attr-defined]
        outcome="success",
        object=obj,
        detail=detail,
    )
    db.session.commit()


def _log_unlogged_download(response: Any) -> None:
    """A file sent as an attachment to a signed-in user that its route did not log itself
    (the 自评表 workbook, the ZIP of sheets, the indicator library, any later download): one
    'download' event, before the response leaves. Should the insert fail, the request fails
    with it (fail closed: no record, no file)."""
    from flask_login import current_user

    if response.status_code != 200 or g.get("access_logged"):
        return
    disposition = response.headers.get("Content-Disposition", "")
    if not disposition.startswith("attachment"):
        return
    if not getattr(current_user, "is_authenticated", False):
        return
    name = disposition.rsplit("filename*=UTF-8''", 1)[-1] if "filename*=" in disposition else ""
    if not name and "filename=" in disposition:
        name = disposition.split("filename=", 1)[1].strip('"')
    from urllib.parse import unquote

    log_access(
        "download",
        f"{request.method} {request.full_path.rstrip('?')}",
        {"endpoint": request.endpoint or "", "file": unquote(name)[:200]},
    )


def record_denied(code: int) -> None:
    from flask_login import current_user

    user = current_user._get_current_object() if current_user else None  # type: ignore[attr-defined]
    signed_in = bool(getattr(user, "is_authenticated", False))
    if code == 404 and not signed_in:
        return  # an anonymous miss is noise, not a refused object
    if request.endpoint == "static":
        return
    session = db.session()
    try:
        session.rollback()  # the refused action's changes, if any, go nowhere
        from workflow.core.database import immediate

        immediate(session)
        record_security_event(
            "denied",
            user=user if signed_in else None,
            outcome="denied",
            object=f"{request.method} {request.path}",
            detail={"status": code, "endpoint": request.endpoint or ""},
        )
        session.commit()
    except Exception:  # the error page must still be served; the failure is logged
        session.rollback()
        log.exception("could not record a denied request")


def init_app(app: Flask) -> None:
    from workflow.core import chain

    chain.install()

    # After the response is built, whichever way it was (an abort, or a page that answers
    # 404 itself for an evaluation the user may not see).
    @app.after_request
    def _denied(response: Any) -> Any:
        if response.status_code in (403, 404):
            record_denied(response.status_code)
        else:
            _log_unlogged_download(response)
        return response


def is_auditor(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and Role(user.role) is Role.AUDITOR
    )
