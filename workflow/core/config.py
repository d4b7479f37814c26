"""Configuration from the environment, with embedded defaults for `make run`."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR = PROJECT_ROOT / "var"
INSECURE_KEYS = {"", "dev", "change-me", "dev-only-not-secret"}


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def var_dir() -> Path:
    return Path(os.environ.get("JIXIAO_VAR", str(DEFAULT_VAR))).resolve()


def default_database_url() -> str:
    # Absolute path: the web process, the worker and beat must open the same file.
    return f"sqlite:///{var_dir() / 'jixiao.sqlite3'}"


def from_env() -> dict[str, object]:
    var = var_dir()
    env = os.environ.get("JIXIAO_ENV", "development")
    return {
        "ENV_NAME": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "dev-only-not-secret"),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or default_database_url(),
        "VAR_DIR": str(var),
        "PDF_DIR": os.environ.get("PDF_DIR", str(var / "pdf")),
        "EVIDENCE_DIR": os.environ.get("EVIDENCE_DIR", str(var / "evidence")),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        "EVIDENCE_MAX_BYTES": int(os.environ.get("EVIDENCE_MAX_MB", "10")) * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production" or _bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": env == "production",
        "WTF_CSRF_TIME_LIMIT": None,
        # Rendered list rows kept per process (workflow/cells.py); 0 renders every row.
        "LIST_ROW_CACHE": int(os.environ.get("LIST_ROW_CACHE", "4096")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "APP_BASE_URL": os.environ.get("APP_BASE_URL", "http://127.0.0.1:5000"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "8025")),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "绩效自评系统 <noreply@localhost>"
        ),
        # Without an SMTP server configured (the embedded `make run`), mails are logged, not
        # sent, outside production; in-app notices work either way. Production never guesses.
        "MAIL_SUPPRESS_SEND": _bool(
            "MAIL_SUPPRESS_SEND", env != "production" and not os.environ.get("MAIL_SERVER")
        ),
        "MAIL_TIMEOUT": int(os.environ.get("MAIL_TIMEOUT", "20")),
        "MAIL_RETRY_BASE_SECONDS": int(os.environ.get("MAIL_RETRY_BASE_SECONDS", "30")),
        "MAIL_MAX_RETRIES": int(os.environ.get("MAIL_MAX_RETRIES", "6")),
        "PDF_FONT": os.environ.get("PDF_FONT", "Noto Sans CJK SC"),
        "REMINDER_TZ": os.environ.get("REMINDER_TZ", "Asia/Shanghai"),
        # The outbox is dispatched to Celery after commit; tests may switch it off.
        "OUTBOX_DISPATCH": _bool("OUTBOX_DISPATCH", True),
        # A request waits at most this long for its hand-out to the broker; past it the
        # publish goes on in the background and the relay covers a failure.
        "OUTBOX_SEND_DEADLINE_MS": int(os.environ.get("OUTBOX_SEND_DEADLINE_MS", "20")),
        # An open outbox row whose last hand-out is older than this is handed out again.
        "OUTBOX_REHAND_SECONDS": int(os.environ.get("OUTBOX_REHAND_SECONDS", "180")),
        "BOOTSTRAP_SERVE_LOCAL": True,
    }
