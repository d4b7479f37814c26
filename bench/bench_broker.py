"""Submit latency with the broker up, refused and hung, side by side in one run (issue 15).

Run: .venv/bin/python bench/bench_broker.py [--evaluations 2000] [--submits 40] [--rounds 3]
Needs PostgreSQL on 127.0.0.1 (trust) and the redis-server binary. The submit is the real
operation (40 indicators: validate, score, transition, audit, outbox with a PDF and a
notice) with the hand-out to Celery on. Each round measures, one after the other:

- off:     hand-out switched off (OUTBOX_DISPATCH=0): the submit alone, the baseline;
- up:      a private redis-server on 127.0.0.1 answering;
- hung:    the same server paused with SIGSTOP (connections are accepted, nothing answers);
- refused: the server stopped (nothing listens on its port).

Prints the median and p99 of each (all rounds together) and per round, and after each
phase how many hand-outs still wait on the process's publisher thread.

The app is configured as compose configures it: CELERY_BROKER_URL and CELERY_RESULT_BACKEND
point at the private server before the app is made, so celeryconfig applies the production
transport options (socket_connect_timeout 2 s, socket_timeout 10 s). The first version set
only `broker_url` through the app's CELERY overrides; celeryconfig had already chosen the
embedded transport's options, so the Redis connection had no socket timeout, and a publish
to the paused server waited on its socket for as long as the server stayed paused. The
submits never waited (the request waits at most the deadline), but the publisher thread's
backlog grew without bound and the run could hang in its teardown behind it. Now every phase
runs under a watchdog (a stall prints every thread's stack and exits 3), and the run ends
only when the publisher has caught up with the broker up again.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_submit import ADMIN_URL, entries_for, forty_indicator_scheme  # noqa: E402

import scoring  # noqa: E402
from workflow import create_app  # noqa: E402
from workflow.core import outbox  # noqa: E402
from workflow.core.extensions import db  # noqa: E402
from workflow.evaluations import operations  # noqa: E402
from workflow.models import (  # noqa: E402
    Cycle,
    Evaluation,
    IndicatorScore,
    Org,
    OutboxMessage,
    Project,
    User,
    snapshot_for,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Redis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def wait_for_publisher(limit: float) -> None:
    """With the broker up again, the hand-outs queued while it was away go out; wait for
    them, so that the next phase starts from an empty backlog."""
    deadline = time.monotonic() + limit
    while outbox.publisher_backlog():
        if time.monotonic() > deadline:
            faulthandler.dump_traceback(all_threads=True)
            raise SystemExit(f"the publisher did not catch up within {limit} s")
        time.sleep(0.05)


def q(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evaluations", type=int, default=2000)
    parser.add_argument("--submits", type=int, default=40, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--watchdog",
        type=float,
        default=300,
        help="seconds a phase may take before the run is stopped",
    )
    args = parser.parse_args()

    name = f"jixiao_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    tmp = Path(tempfile.mkdtemp())
    redis = Redis(tmp)
    redis.start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    # As compose sets them, before the app (and celeryconfig) is made.
    os.environ["CELERY_BROKER_URL"] = url
    os.environ["CELERY_RESULT_BACKEND"] = f"redis://127.0.0.1:{redis.port}/1"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
            "VAR_DIR": str(tmp),
            "PDF_DIR": str(tmp / "pdf"),
            "EVIDENCE_DIR": str(tmp / "ev"),
            "OUTBOX_DISPATCH": True,
            "SECRET_KEY": "bench",
        }
    )
    options = app.extensions["celery"].conf.broker_transport_options
    assert options.get("socket_timeout") and options.get("socket_connect_timeout"), options
    phases = ("off", "up", "hung", "refused")
    results: dict[str, list[list[float]]] = {p: [] for p in phases}
    backlog: dict[str, list[int]] = {p: [] for p in phases}
    try:
        with app.test_request_context():
            db.create_all()
            scheme = scoring.scheme_from_dict(forty_indicator_scheme())
            snapshot_dict = scheme.to_dict()
            entries = entries_for(scheme)
            dept = Org(name="主管部门", kind="department")
            unit = Org(name="单位", kind="unit", parent=dept)
            db.session.add_all([Org(name="财政", kind="finance"), dept, unit])
            db.session.flush()
            staff = User(
                username="u", name="填报人", role="unit_staff", org=unit, password_hash="x"
            )
            reviewer = User(
                username="r", name="审核人", role="reviewer", org=dept, password_hash="x"
            )
            cycle = Cycle(
                year=2024, name="bench", scheme_key="bench-40", scheme_version="1",
                scheme=snapshot_dict, deadline_submit=date(2025, 4, 1),
                deadline_review=date(2025, 4, 15), deadline_confirm=date(2025, 5, 1),
            )  # fmt: skip
            db.session.add_all([staff, reviewer, cycle])
            snapshot = snapshot_for(snapshot_dict)
            db.session.commit()
            n = args.evaluations
            db.session.execute(
                sa.insert(Project),
                [{"unit_id": unit.id, "name": f"项目{i}", "summary": ""} for i in range(n)],
            )
            pids = db.session.scalars(sa.select(Project.id).order_by(Project.id)).all()
            db.session.execute(
                sa.insert(Evaluation),
                [
                    {"project_id": pid, "cycle_id": cycle.id, "unit_id": unit.id,
                     "department_id": dept.id, "state": "draft", "version": 1,
                     "scheme_id": snapshot.id, "entries": entries}
                    for pid in pids
                ],
            )  # fmt: skip
            ev_ids = db.session.scalars(sa.select(Evaluation.id).order_by(Evaluation.id)).all()
            db.session.execute(
                sa.insert(IndicatorScore),
                [
                    {"evaluation_id": eid, "code": ind.code, "position": p, "weight": ind.weight}
                    for eid in ev_ids
                    for p, ind in enumerate(scheme.indicators)
                ],
            )
            db.session.commit()
            user_id = staff.id
            todo = iter(ev_ids)

            def submits(count: int) -> list[float]:
                out = []
                for _ in range(count):
                    db.session.remove()
                    actor = db.session.get(User, user_id)
                    _ = actor.org
                    t = time.perf_counter()
                    operations.fire(actor, next(todo), "submit")
                    out.append(time.perf_counter() - t)
                return out

            def phase(name: str) -> None:
                faulthandler.dump_traceback_later(args.watchdog, exit=True)
                results[name].append(submits(args.submits))
                faulthandler.cancel_dump_traceback_later()
                backlog[name].append(outbox.publisher_backlog())

            submits(5)  # warm-up: scheme, templates, the broker connection
            for _round in range(args.rounds):
                app.config["OUTBOX_DISPATCH"] = False
                phase("off")
                app.config["OUTBOX_DISPATCH"] = True
                phase("up")
                assert redis.process is not None
                os.kill(redis.process.pid, signal.SIGSTOP)
                phase("hung")
                os.kill(redis.process.pid, signal.SIGCONT)
                redis.stop()
                phase("refused")
                redis.start()
                wait_for_publisher(args.watchdog)
            rows_left = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.handed_out_at.is_(None), OutboxMessage.done_at.is_(None))
            )
    finally:
        redis.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"submit latency, {args.rounds} rounds x {args.submits} submits per broker state, "
        f"{args.evaluations} evaluations, 40 indicators, PostgreSQL, hand-out deadline "
        f"{app.config['OUTBOX_SEND_DEADLINE_MS']} ms"
    )
    print(
        f"{'broker':<10}{'median ms':>10}{'p99 ms':>9}{'max ms':>9}   per-round medians"
        "   publisher backlog after each round"
    )
    for name in phases:
        values = [v for r in results[name] for v in r]
        rounds = ", ".join(f"{statistics.median(r) * 1000:.1f}" for r in results[name])
        print(
            f"{name:<10}{statistics.median(values) * 1000:>10.1f}{q(values, 0.99):>9.1f}"
            f"{max(values) * 1000:>9.1f}   {rounds}   {backlog[name]}"
        )
    print(f"rows given back to the relay (hand-out failed) at the end: {rows_left}")


if __name__ == "__main__":
    main()
