"""The Flask application: create_app() wires extensions, blueprints, errors and commands."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from workflow import config as config_module
from workflow.extensions import csrf, db, limiter, login_manager, migrate

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
    for key in ("VAR_DIR", "PDF_DIR", "EVIDENCE_DIR"):
        Path(app.config[key]).mkdir(parents=True, exist_ok=True)

    # A pooled server connection may have been dropped (restart, idle timeout): test it
    # before use. A SQLite file cannot drop, and there the ping was a statement per request.
    engine_options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    engine_options.setdefault(
        "pool_pre_ping", not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite")
    )
    db.init_app(app)
    from workflow import database

    database.init_app(app)
    import workflow.models  # noqa: F401  (register the tables with the metadata)

    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from workflow import auth, security, web

    auth.init_app(app)
    security.init_app(app)
    web.init_app(app)

    from workflow import cli

    cli.init_app(app)

    from workflow.tasks import init_celery

    init_celery(app)
    app.add_url_rule("/healthz", "healthz", _healthz_view)
    return app


def _refuse_insecure_production(app: Flask) -> None:
    if app.config.get("ENV_NAME") == "production":
        key = str(app.config.get("SECRET_KEY") or "")
        if key in config_module.INSECURE_KEYS or len(key) < 32:
            raise RuntimeError(
                "生产环境必须设置 SECRET_KEY（至少 32 个字符的随机值）；拒绝使用缺省密钥启动。"
            )


def _healthz_view() -> tuple[dict[str, str], int]:
    from sqlalchemy import text

    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return {"status": "database unavailable"}, 503
    finally:
        db.session.remove()
    return {"status": "ok"}, 200
