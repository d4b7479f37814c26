"""Helpers for the task integration tests: real things on 127.0.0.1.

- PostgreSQL: a fresh database per test (the server at 127.0.0.1:5432, trust auth).
- Redis: a private redis-server started from the installed binary on a free port, so that
  no other test run shares (or flushes) its queues, and a test can stop it.
- SMTP: aiosmtpd in this process, counting what it receives; a test can stop and restart it.
- Celery: a real worker process (`celery -A wsgi.celery worker`, prefork, 2 children) with
  the same environment as production, pointed at the three above.

They never skip: when PostgreSQL or the redis-server binary is missing they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

TASKS_DIR = Path(__file__).resolve().parent.parent / "workflow"
sys.path.insert(0, str(TASKS_DIR))

from task_smtp import SmtpServer, free_port  # noqa: E402  (tests/workflow/task_smtp.py)

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {check}")
        time.sleep(interval)


def _pg_exec(sql: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._ready, timeout=10)

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass
class Live:
    app: Flask
    env: dict[str, str]
    tmp: Path
    redis: RedisServer
    smtp: SmtpServer
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(
        self, concurrency: int = 2, name: str | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "wsgi.celery",
                "worker",
                "--pool",
                "prefork",
                "-c",
                str(concurrency),
                "-Q",
                "pdf,mail,default",
                "--loglevel",
                "INFO",
                "-n",
                name or f"w{len(self.workers)}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(process)
        wait_for(lambda: b"ready." in self.worker_log(process) or process.poll() is not None, 60)
        assert process.poll() is None, self.worker_log(process).decode(errors="replace")[-3000:]
        return process

    def worker_log(self, process: subprocess.Popen[bytes]) -> bytes:
        index = self.workers.index(process)
        return (self.tmp / f"worker-{index}.log").read_bytes()

    def kill_worker(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Kill the worker and its pool children at once (the whole process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(20)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                self.kill_worker(process, signal.SIGTERM)


def live_env(tmp: Path, pg_url: str, redis_url: str, smtp_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "JIXIAO_VAR": str(tmp / "var"),
            "PDF_DIR": str(tmp / "var" / "pdf"),
            "DATABASE_URL": pg_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            # Short enough that a message held by a killed worker comes back within the test;
            # every limit and delay stays below it, as in production.
            "CELERY_VISIBILITY_TIMEOUT": "12",
            "CELERY_RESTORE_INTERVAL": "1",
            "CELERY_TASK_TIME_LIMIT": "10",
            "CELERY_TASK_SOFT_TIME_LIMIT": "8",
            "CELERY_RETRY_BACKOFF_MAX": "4",
            "MAIL_RETRY_BASE_SECONDS": "1",
            "MAIL_MAX_RETRIES": "20",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "MAIL_SUPPRESS_SEND": "0",
            "APP_BASE_URL": "http://jixiao.test",
            "SECRET_KEY": "integration-secret-key-0123456789abcdef",
            "OUTBOX_DISPATCH": "1",
        }
    )
    return env


def bulk_worker(live: Live, **env: str) -> subprocess.Popen[bytes]:
    """A worker that listens to the ``bulk`` queue only (solo pool, as in production), with
    these settings on top of the live environment (a piece's budget, say)."""
    log = open(live.tmp / "worker-bulk.log", "wb")  # noqa: SIM115
    env = dict(live.env, **env)
    process = subprocess.Popen(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "wsgi.celery",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "bulk",
            "--loglevel",
            "INFO",
            "-n",
            f"bulk-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    live.workers.append(process)
    read = lambda: (live.tmp / "worker-bulk.log").read_bytes()  # noqa: E731
    wait_for(lambda: b"ready." in read() or process.poll() is not None, 60)
    assert process.poll() is None, read().decode(errors="replace")[-3000:]
    return process
