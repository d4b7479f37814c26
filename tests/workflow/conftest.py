"""Fixtures for the task-side unit tests: an app on a fresh SQLite file, the seed world and
a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parent))

from task_smtp import SmtpServer, free_port  # noqa: E402
from task_world import World, build_world  # noqa: E402

from workflow import create_app  # noqa: E402
from workflow.core.extensions import db  # noqa: E402


@pytest.fixture
def task_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


def task_config(tmp: Path, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'tasks.sqlite3'}",
        "VAR_DIR": str(tmp / "var"),
        "PDF_DIR": str(tmp / "var" / "pdf"),
        "EVIDENCE_DIR": str(tmp / "var" / "evidence"),
        "OUTBOX_DISPATCH": False,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "task-tests-secret-key-0123456789abcdef",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": free_port(),  # nothing listens unless a test starts task_smtp
        "MAIL_SUPPRESS_SEND": False,
        "MAIL_TIMEOUT": 5,
        "APP_BASE_URL": "http://jixiao.test",
    }
    config.update(extra)
    return config


@pytest.fixture
def task_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(task_config(tmp_path))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def task_ctx(task_app: Flask) -> Iterator[Flask]:
    with task_app.app_context():
        yield task_app


@pytest.fixture
def task_world(task_ctx: Flask) -> World:
    return build_world()


@pytest.fixture
def task_mail_app(task_app: Flask, task_smtp: SmtpServer) -> Flask:
    task_app.config["MAIL_PORT"] = task_smtp.port
    return task_app
