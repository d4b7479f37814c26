"""What signing in changes: failure counters and locks, the second factor, passwords, and
the audit rows of each step. One commit per call, like every operations module.

Security events are written to the audit log (``audit_log``, evaluation_id NULL) through
``record_event``: the one place to connect to a dedicated security-event log later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from workflow.auth import passwords, totp
from workflow.core.audit import record_security_event
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.machine import Role
from workflow.models import AuditLog, User, utcnow

# Roles that may choose whether to use a second factor (MFA_POLICY_UNIT_STAFF); everyone
# else (reviewers, finance, every administrator) must.
UNIT_ROLES = frozenset({Role.UNIT_STAFF.value, Role.UNIT_HEAD.value})


class AuthError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- security events -------------------------------------------------------------------------


def _clean(text: str, limit: int) -> str:
    # What a visitor typed goes into the log: no control characters, bounded length.
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


# Identity events under the security-event log's kinds where it has one.
_KIND = {"account_locked": "lockout", "account_unlocked": "unlock", "session_timeout": "timeout",
         "password_changed": "password_change"}  # fmt: skip


def _security_outcome(outcome: str) -> str:
    if outcome.startswith("拒绝"):
        return "denied"
    if outcome.startswith(("失败", "锁定")):
        return "failure"
    return "success"


def record_event(
    event: str,
    user: User | None,
    *,
    username: str = "",
    outcome: str = "success",
    detail: str = "",
    actor: User | None = None,
) -> None:
    """Add one security-event row to the session (the caller commits with its change).
    ``user`` is whom the event is about; ``actor`` who did it when someone else did
    (an administrator unlocking an account)."""
    who = actor or user
    parts = [f"结果：{outcome}"]
    if actor is not None and user is not None and actor.id != user.id:
        parts.append(f"对象：{user.username}")
    if user is None and username:
        parts.append(f"输入的用户名：{_clean(username, 64)}")
    if has_request_context():
        parts.append(f"IP：{request.remote_addr or ''}")
        parts.append(f"UA：{_clean(request.user_agent.string or '', 200)}")
    if detail:
        parts.append(detail)
    # The security-event log (chained, read by the 审计管理员) gets every such event; the
    # audit trail keeps its row too, with the administrator's and the user's names.
    record_security_event(
        _KIND.get(event, event),
        user=who,
        outcome=_security_outcome(outcome),
        object=f"user:{user.username}" if user is not None else "",
        detail={
            "event": event,
            "text": "；".join(parts),
            # Whom it is about and who did it: both names when an administrator acted.
            **({"target": user.username, "target_name": user.name} if user is not None else {}),
            "by": who.username if who is not None else "命令行",
            "by_name": who.name if who is not None else "命令行",
        },
        username=username or None,
    )
    db.session.add(
        AuditLog(
            evaluation_id=None,
            actor_id=who.id if who is not None else None,
            actor_name=who.name if who is not None else "（未知用户）",
            role=who.role if who is not None else "",
            org_id=who.org_id if who is not None else None,
            org_name=who.org.name if who is not None else "",
            event=event,
            reason="；".join(parts),
        )
    )


# --- configuration ---------------------------------------------------------------------------


def _cfg(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def max_failures() -> int:
    return _cfg("LOCKOUT_THRESHOLD", 5)


def lock_minutes() -> int:
    return _cfg("LOCKOUT_MINUTES", 30)


def mfa_required(role: str) -> bool:
    if role in UNIT_ROLES:
        return str(current_app.config.get("MFA_POLICY_UNIT_STAFF", "required")) == "required"
    return True


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def is_locked(user: User, now: datetime | None = None) -> bool:
    until = _aware(user.locked_until)
    return until is not None and (now or utcnow()) < until


# --- the password step -----------------------------------------------------------------------

# A real scrypt hash of a random password: an unknown username costs the same hash as a
# known one, so the response time does not tell whether an account exists.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16), method="scrypt")
    return _DUMMY_HASH


def find_user(username: str) -> User | None:
    return db.session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )


def check_password(username: str, password: str) -> User | None:
    """The user when the password is right and the account active and not locked; else
    None. Every path runs one password hash and writes one audit row, so a wrong name, a
    wrong password, a locked and a disabled account look and take alike."""
    begin_write()
    user = find_user(username)
    now = utcnow()
    if user is None:
        check_password_hash(_dummy_hash(), password)
        record_event("login_failed", None, username=username, outcome="失败：用户不存在")
        db.session.commit()
        return None
    right = user.check_password(password)
    if is_locked(user, now):
        record_event("login_refused_locked", user, outcome="拒绝：账号已锁定")
        db.session.commit()
        return None
    if not user.active:
        record_event("login_failed", user, outcome="拒绝：账号已停用")
        db.session.commit()
        return None
    if not right:
        _count_failure(user, "failed_logins", "login_failed", "失败：密码错误", now)
        db.session.commit()
        return None
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()
    return user


def _count_failure(user: User, counter: str, event: str, outcome: str, now: datetime) -> None:
    count = int(getattr(user, counter) or 0) + 1
    setattr(user, counter, count)
    record_event(event, user, outcome=outcome, detail=f"连续失败次数：{count}")
    if count >= max_failures():
        user.locked_until = now + timedelta(minutes=lock_minutes())
        user.failed_logins = 0
        user.totp_failures = 0
        record_event(
            "account_locked",
            user,
            outcome="锁定",
            detail=f"连续失败 {count} 次，锁定 {lock_minutes()} 分钟",
        )


# --- the second factor -----------------------------------------------------------------------


def _hash_recovery(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac(
        "sha256", totp.normalise_recovery(code).encode(), salt.encode(), 20000
    )
    return f"{salt}${digest.hex()}"


def _recovery_matches(stored: str, code: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(stored, _hash_recovery(code, salt))


@dataclass(frozen=True)
class FactorResult:
    ok: bool
    message: str = ""
    used_recovery: bool = False


def check_second_factor(user_id: int, session_token: str, code: str) -> FactorResult:
    """A TOTP code (each time step once) or an unused recovery code. Failures count
    towards the same lock as passwords."""
    begin_write()
    user = db.session.get(User, user_id)
    fail_message = "动态口令错误或已使用，请输入认证器上的最新口令"
    if user is None or not user.active or user.session_token != session_token:
        db.session.commit()
        return FactorResult(False, "登录已失效，请重新输入用户名和密码")
    now = utcnow()
    if is_locked(user, now):
        record_event("login_refused_locked", user, outcome="拒绝：账号已锁定（第二因素）")
        db.session.commit()
        return FactorResult(False, "账号已锁定，请稍后再试或联系安全管理员解锁")
    if not user.totp_secret or not user.totp_enabled_at:
        db.session.commit()
        return FactorResult(False, fail_message)
    step = totp.verify(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        user.totp_failures = 0
        db.session.commit()
        return FactorResult(True)
    remaining = list(user.recovery_codes or [])
    for stored in remaining:
        if "-" in code and _recovery_matches(stored, code):
            remaining.remove(stored)
            user.recovery_codes = remaining
            user.totp_failures = 0
            record_event("recovery_code_used", user, detail=f"剩余恢复码：{len(remaining)} 个")
            db.session.commit()
            return FactorResult(True, used_recovery=True)
    _count_failure(user, "totp_failures", "second_factor_failed", "失败：动态口令错误", now)
    db.session.commit()
    if is_locked(user):
        return FactorResult(False, "账号已锁定，请稍后再试或联系安全管理员解锁")
    return FactorResult(False, fail_message)


def start_enrolment(user: User) -> str:
    """A fresh secret for an account that has no confirmed second factor yet."""
    begin_write()
    if user.totp_enabled:
        raise AuthError("已绑定动态口令")
    user.totp_secret = totp.new_secret()
    db.session.commit()
    return user.totp_secret


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Enable the second factor once the first code from the app is right; return the
    recovery codes (their hashes are kept, the codes are shown once)."""
    begin_write()
    if not user.totp_secret or user.totp_enabled:
        raise AuthError("请重新开始绑定")
    step = totp.verify(user.totp_secret, code, None)
    if step is None:
        raise AuthError("动态口令不正确，请核对手机时间后输入认证器上的最新口令")
    codes = totp.new_recovery_codes()
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    user.recovery_codes = [_hash_recovery(c) for c in codes]
    record_event("totp_enrolled", user)
    db.session.commit()
    return codes


def enrol_directly(user: User, secret: str | None = None) -> str:
    """Give an account a confirmed second factor without the app round trip (the demo
    command); returns the secret. The caller commits."""
    user.totp_secret = secret or user.totp_secret or totp.new_secret()
    user.totp_enabled_at = user.totp_enabled_at or utcnow()
    return user.totp_secret


def reset_second_factor(user: User, *, actor: User) -> None:
    """The security administrator removes a lost factor; the owner enrols again at login."""
    begin_write()
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_codes = None
    user.rotate_session()
    record_event("totp_reset", user, actor=actor)
    db.session.commit()


# --- locks -----------------------------------------------------------------------------------


def unlock(user: User, *, actor: User | None = None, by: str = "") -> None:
    begin_write()
    user.locked_until = None
    user.failed_logins = 0
    user.totp_failures = 0
    record_event("account_unlocked", user, actor=actor, detail=by)
    db.session.commit()


# --- passwords -------------------------------------------------------------------------------


def password_problems(user: User | None, username: str, password: str) -> list[str]:
    history = current_app.config.get("PASSWORD_HISTORY", passwords.HISTORY)
    previous: list[str] = []
    if user is not None:
        previous = [user.password_hash, *(h.password_hash for h in user.history)]
    return passwords.problems(
        password,
        username,
        previous_hashes=previous,
        min_length=int(current_app.config.get("PASSWORD_MIN_LENGTH", passwords.MIN_LENGTH)),
        history=int(history),
    )


def change_password(user: User, current: str, new: str) -> None:
    begin_write()
    if not user.check_password(current):
        raise AuthError("当前密码不正确")
    found = password_problems(user, user.username, new)
    if found:
        raise AuthError("；".join(found))
    user.set_password(new)
    record_event("password_changed", user)
    db.session.commit()


def password_expired(changed_at: datetime | None) -> bool:
    return passwords.expired(changed_at, int(current_app.config.get("PASSWORD_MAX_AGE_DAYS", 90)))
