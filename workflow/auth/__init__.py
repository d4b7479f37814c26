"""Login, logout and password change."""

from __future__ import annotations

from flask import Flask

from workflow.auth.routes import bp, load_user_from_id
from workflow.extensions import login_manager


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user_from_id)
    app.register_blueprint(bp)
