"""The password policy (GB/T 22239 身份鉴别 a): length, character classes, not the
username, not a common password, none of the last few reused, and an age limit.

Pure checks with the figures from the app config; operations call ``check`` before they
store a password, ``generate`` makes random ones that pass."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from werkzeug.security import check_password_hash

from workflow.auth.common_passwords import is_common

MIN_LENGTH = 10
MIN_CLASSES = 3
HISTORY = 5
MAX_AGE_DAYS = 90


def _classes(password: str) -> int:
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def problems(
    password: str,
    username: str,
    *,
    previous_hashes: Iterable[str] = (),
    min_length: int = MIN_LENGTH,
    history: int = HISTORY,
) -> list[str]:
    """Every rule the password breaks, as messages for the person choosing it."""
    found: list[str] = []
    if len(password) < min_length:
        found.append(f"密码至少 {min_length} 个字符")
    if _classes(password) < MIN_CLASSES:
        found.append("密码须包含大写字母、小写字母、数字、符号中的至少三类")
    name = username.strip().lower()
    if name and name in password.lower():
        found.append("密码不能包含用户名")
    if is_common(password):
        found.append("密码过于常见，请换一个不易猜到的密码")
    if history > 0:
        for old in list(previous_hashes)[:history]:
            if old and check_password_hash(old, password):
                found.append(f"新密码不能与最近 {history} 次使用过的密码相同")
                break
    return found


def expired(changed_at: datetime | None, max_age_days: int, now: datetime | None = None) -> bool:
    """Whether a password set at ``changed_at`` is past its age; 0 days means no limit."""
    if max_age_days <= 0 or changed_at is None:
        return False
    if changed_at.tzinfo is None:  # SQLite hands naive UTC values back
        changed_at = changed_at.replace(tzinfo=UTC)
    return (now or datetime.now(UTC)) - changed_at > timedelta(days=max_age_days)


def generate(length: int = 14) -> str:
    """A random password with all four classes (for resets, new accounts and the demo)."""
    alphabet = string.ascii_letters + string.digits + "-_.!@#%"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if _classes(candidate) == 4 and not is_common(candidate):
            return candidate
