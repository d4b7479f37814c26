"""Fixtures for the task integration tests (helpers in task_live_helpers.py)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "workflow"))

from task_live_helpers import PG_ADMIN_URL, Live, RedisServer, _pg_exec, live_env  # noqa: E402
from task_smtp import SmtpServer, free_port  # noqa: E402, F401

from workflow import create_app  # noqa: E402
from workflow.core.extensions import db  # noqa: E402


@pytest.fixture
def task_pg_url() -> Iterator[str]:
    name = f"jixiao_tasks_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def task_redis(tmp_path: Path) -> Iterator[RedisServer]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def task_live_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def task_live(
    tmp_path: Path, task_pg_url: str, task_redis: RedisServer, task_live_smtp: SmtpServer
) -> Iterator[Live]:
    env = live_env(tmp_path, task_pg_url, task_redis.url, task_live_smtp.port)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": task_pg_url,
            "VAR_DIR": env["JIXIAO_VAR"],
            "PDF_DIR": env["PDF_DIR"],
            "OUTBOX_DISPATCH": True,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": task_live_smtp.port,
            "APP_BASE_URL": "http://jixiao.test",
            "SECRET_KEY": env["SECRET_KEY"],
            "CELERY": {
                "broker_url": task_redis.url,
                "result_backend": task_redis.url,
                "broker_transport_options": {"visibility_timeout": 12},
            },
        }
    )
    with app.app_context():
        db.create_all()
    live = Live(app, env, tmp_path, task_redis, task_live_smtp)
    yield live
    live.stop_workers()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
