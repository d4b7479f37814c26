"""Configuration from the environment, with embedded defaults for `make run`."""

from __future__ import annotations

import os
from pathlib import Path

from workflow.core.crypto import DEV_AUDIT_HMAC_KEY, DEV_FIELD_KEYRING

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR = PROJECT_ROOT / "var"
INSECURE_KEYS = {"", "dev", "change-me", "dev-only-not-secret"}
MIN_RETENTION_DAYS = 180


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
        # An uploaded 自评表 workbook, and the sheets one ZIP may hold (workflow/workbooks).
        "XLSX_MAX_MB": int(os.environ.get("XLSX_MAX_MB", "5")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production" or _bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": env == "production",
        "WTF_CSRF_TIME_LIMIT": None,
        # Rendered list rows kept per process (workflow/cells.py); 0 renders every row.
        "LIST_ROW_CACHE": int(os.environ.get("LIST_ROW_CACHE", "4096")),
        # Department and finance list pages' rows kept per process under their groups'
        # generations (evaluations/queries.py); 0 reads every page's rows.
        "LIST_PAGE_CACHE": int(os.environ.get("LIST_PAGE_CACHE", "256")),
        # A pooled PostgreSQL connection idle this long is tested before use (database.py).
        "DB_PING_IDLE_SECONDS": float(os.environ.get("DB_PING_IDLE_SECONDS", "1")),
        # How often the self-evaluation form saves a draft while someone types (form.js).
        "AUTOSAVE_SECONDS": int(os.environ.get("AUTOSAVE_SECONDS", "60")),
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
        # After a failed hand-out the requests' rows go straight to the relay this long.
        "OUTBOX_BROKER_BACKOFF_SECONDS": int(os.environ.get("OUTBOX_BROKER_BACKOFF_SECONDS", "5")),
        "BOOTSTRAP_SERVE_LOCAL": True,
        # 身份鉴别 (GB/T 22239 §8.1.4.1): lockout, second factor, password policy, sessions.
        "LOCKOUT_THRESHOLD": int(os.environ.get("LOCKOUT_THRESHOLD", "5")),
        "LOCKOUT_MINUTES": int(os.environ.get("LOCKOUT_MINUTES", "30")),
        # Unit staff and unit heads: "required" or "optional"; everyone else always needs it.
        "MFA_POLICY_UNIT_STAFF": os.environ.get("MFA_POLICY_UNIT_STAFF", "required"),
        "PASSWORD_MIN_LENGTH": int(os.environ.get("PASSWORD_MIN_LENGTH", "10")),
        "PASSWORD_HISTORY": int(os.environ.get("PASSWORD_HISTORY", "5")),
        "PASSWORD_MAX_AGE_DAYS": int(os.environ.get("PASSWORD_MAX_AGE_DAYS", "90")),
        "SESSION_IDLE_MINUTES": int(os.environ.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_MAX_HOURS": int(os.environ.get("SESSION_MAX_HOURS", "12")),
        # Host names the app answers to (Flask checks the Host header); required in production.
        "TRUSTED_HOSTS": [
            h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()
        ]
        or None,
        # clamd for evidence files: "unix:/path/clamd.ctl" or "tcp:127.0.0.1:3310"; empty
        # skips the scan outside production (production refuses to start without it).
        "CLAMD_ADDRESS": os.environ.get("CLAMD_ADDRESS", ""),
        "EVIDENCE_MAX_FILES": int(os.environ.get("EVIDENCE_MAX_FILES", "30")),
        "EVIDENCE_QUOTA_BYTES": int(os.environ.get("EVIDENCE_QUOTA_MB", "100")) * 1024 * 1024,
        # 等保/密评 (README): the audit chain's HMAC-SM3 key, the SM4 field keyring and the
        # SM2 seal key; the development defaults are refused in production.
        "AUDIT_HMAC_KEY": os.environ.get("AUDIT_HMAC_KEY", DEV_AUDIT_HMAC_KEY),
        "FIELD_KEYRING": os.environ.get("FIELD_KEYRING", DEV_FIELD_KEYRING),
        "SEAL_PRIVATE_KEY": os.environ.get("SEAL_PRIVATE_KEY", ""),
        "SEAL_KEY_FILE": os.environ.get("SEAL_KEY_FILE", str(var / "keys" / "seal-sm2.pem")),
        # 网络安全法 第二十一条: logs are kept at least six months; archive refuses younger rows.
        "AUDIT_RETENTION_DAYS": int(os.environ.get("AUDIT_RETENTION_DAYS", "180")),
        # The owner role's URL for `flask audit archive` on PostgreSQL (the application's
        # role may only INSERT and SELECT the log tables); defaults to DATABASE_URL.
        "AUDIT_OWNER_DATABASE_URL": os.environ.get("AUDIT_OWNER_DATABASE_URL", ""),
        # 抽查复核 (workflow/rechecks/risk.py): the risk rules' thresholds, and how much more
        # likely a risk-weighted sample draws an evaluation per finding.
        "RISK_HIGH_TOTAL": os.environ.get("RISK_HIGH_TOTAL", "95"),
        "RISK_LOW_EXECUTION": os.environ.get("RISK_LOW_EXECUTION", "0.80"),
        "RISK_OVER_RATIO": os.environ.get("RISK_OVER_RATIO", "1.30"),
        "RISK_ABOVE_DEPARTMENT": os.environ.get("RISK_ABOVE_DEPARTMENT", "5"),
        "RISK_LATE_MONTH": int(os.environ.get("RISK_LATE_MONTH", "10")),
        "RISK_WEIGHT_PER_REASON": float(os.environ.get("RISK_WEIGHT_PER_REASON", "20")),
        # 结果应用: next year's budget advice by final grade (优 prioritise, 良 keep, 中 cut by
        # BUDGET_CUT_SHARE, 差 cut by BUDGET_CUT_SHARE_POOR or suspend), and 整改 items.
        "BUDGET_CUT_SHARE": os.environ.get("BUDGET_CUT_SHARE", "0.10"),
        "BUDGET_CUT_SHARE_POOR": os.environ.get("BUDGET_CUT_SHARE_POOR", "0.30"),
        "RECTIFICATION_DUE_DAYS": int(os.environ.get("RECTIFICATION_DUE_DAYS", "90")),
        "RECTIFICATION_REMIND_EVERY_DAYS": int(
            os.environ.get("RECTIFICATION_REMIND_EVERY_DAYS", "7")
        ),
    }
