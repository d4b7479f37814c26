"""The Flask application: create_app() wires extensions, blueprints, errors and commands."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from workflow.core import config as config_module
from workflow.core.extensions import csrf, db, limiter, login_manager, migrate

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder="static",
        instance_relative_config=False,
    )
    app.config.from_mapping(config_module.from_env())
    if config:
        app.config.update(config)
    _refuse_insecure_production(app)
    from workflow.core import inputs

    # Before any route is added: every <int:...> URL part is bounded to the database's range.
    app.url_map.converters["int"] = inputs.BoundedIntConverter
    for key in ("VAR_DIR", "PDF_DIR", "EVIDENCE_DIR"):
        Path(app.config[key]).mkdir(parents=True, exist_ok=True)

    # A pooled server connection may have been dropped (restart, idle timeout): it is tested
    # before use when it lay idle (database.ping_when_idle), not before every use.
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    db.init_app(app)
    from workflow.core import database

    database.init_app(app)
    import workflow.models  # noqa: F401  (register the tables with the metadata)

    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from workflow.auth import routes as auth_routes
    from workflow.core import audit, security, web

    audit.init_app(app)

    auth_routes.init_app(app)
    security.init_app(app)
    web.init_app(app)
    _register_blueprints(app)
    _register_commands(app)

    from workflow.core.celery import init_celery

    init_celery(app)
    app.add_url_rule("/healthz", "healthz", _healthz_view)
    return app


# The page blueprints besides auth, in the order they were always registered; the factory
# is the only importer of routes modules.
BLUEPRINTS = (
    "home",
    "evaluations",
    "review",
    "finance",
    "dashboard",
    "admin",
    "accounts",
    "notices",
    "workbooks",
    "audit",
    "targets",
    "bulk",
    "rechecks",
)


def _register_blueprints(app: Flask) -> None:
    import importlib

    for name in BLUEPRINTS:
        module = importlib.import_module(f"workflow.{name}.routes")
        app.register_blueprint(module.bp)


def _register_commands(app: Flask) -> None:
    """Each feature's flask commands (its cli.py)."""
    from workflow.accounts import cli as accounts_cli
    from workflow.admin import cli as admin_cli
    from workflow.audit import cli as audit_cli
    from workflow.bulk import cli as bulk_cli
    from workflow.core import cli as core_cli
    from workflow.documents import cli as documents_cli
    from workflow.evaluations import cli as evaluations_cli
    from workflow.rechecks import cli as rechecks_cli
    from workflow.reminders import cli as reminders_cli
    from workflow.workbooks import cli as workbooks_cli

    core_cli.init_app(app)
    admin_cli.init_app(app)
    accounts_cli.init_app(app)
    audit_cli.init_app(app)
    evaluations_cli.init_app(app)
    documents_cli.init_app(app)  # adds `evaluations pdf` to the evaluations group
    reminders_cli.init_app(app)
    workbooks_cli.init_app(app)  # adds `evaluations xlsx`
    bulk_cli.init_app(app)
    rechecks_cli.init_app(app)


def _refuse_insecure_production(app: Flask) -> None:
    if int(app.config.get("AUDIT_RETENTION_DAYS", 0)) < config_module.MIN_RETENTION_DAYS:
        raise RuntimeError(
            f"AUDIT_RETENTION_DAYS 不能少于 {config_module.MIN_RETENTION_DAYS} 天（网络安全法 第二十一条）。"
        )
    if app.config.get("ENV_NAME") == "production":
        key = str(app.config.get("SECRET_KEY") or "")
        # 32 copies of one character pass a length test; a random key has many distinct ones.
        if key in config_module.INSECURE_KEYS or len(key) < 32 or len(set(key)) < 12:
            raise RuntimeError(
                "生产环境必须设置 SECRET_KEY（至少 32 个字符的随机值）；拒绝使用缺省密钥启动。"
            )
        if not app.config.get("TRUSTED_HOSTS"):
            raise RuntimeError("生产环境必须设置 TRUSTED_HOSTS（本系统对外的域名，逗号分隔）。")
        if not app.config.get("CLAMD_ADDRESS"):
            raise RuntimeError("生产环境必须设置 CLAMD_ADDRESS（ClamAV 扫描佐证材料）。")
        from workflow.core import crypto

        problems = crypto.check_production(app.config)
        if problems:
            raise RuntimeError("；".join(problems) + "。")


def _healthz_view() -> tuple[dict[str, str], int]:
    from sqlalchemy import text

    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return {"status": "database unavailable"}, 503
    finally:
        db.session.remove()
    return {"status": "ok"}, 200
