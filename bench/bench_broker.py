"""Submit latency with the broker up, refused and hung, side by side in one run (issue 15).

Run: .venv/bin/python bench/bench_broker.py [--evaluations 2000] [--submits 40] [--rounds 3]
Needs PostgreSQL on 127.0.0.1 (trust) and the redis-server binary. The submit is the real
operation (40 indicators: validate, score, transition, audit, outbox with a PDF and a
notice) with the hand-out to Celery on. Each round measures, one after the other:

- off:     hand-out switched off (OUTBOX_DISPATCH=0): the submit alone, the baseline;
- up:      a private redis-server on 127.0.0.1 answering;
- hung:    the same server paused with SIGSTOP (connections are accepted, nothing answers);
- refused: the server stopped (nothing listens on its port).

Prints the median and p99 of each (all rounds together) and per round.
"""

from __future__ import annotations

import argparse
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
from workflow.core.extensions import db  # noqa: E402
from workflow.evaluations import operations  # noqa: E402
from workflow.models import (  # noqa: E402
    Cycle,
    Evaluation,
    IndicatorScore,
    Org,
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


def q(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evaluations", type=int, default=2000)
    parser.add_argument("--submits", type=int, default=40, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    name = f"jixiao_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    tmp = Path(tempfile.mkdtemp())
    redis = Redis(tmp)
    redis.start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
            "VAR_DIR": str(tmp),
            "PDF_DIR": str(tmp / "pdf"),
            "EVIDENCE_DIR": str(tmp / "ev"),
            "OUTBOX_DISPATCH": True,
            "SECRET_KEY": "bench",
            # The production transport options (celeryconfig), on this private server.
            "CELERY": {"broker_url": url, "result_backend": None},
        }
    )
    phases = ("off", "up", "hung", "refused")
    results: dict[str, list[list[float]]] = {p: [] for p in phases}
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

            submits(5)  # warm-up: scheme, templates, the broker connection
            for _round in range(args.rounds):
                app.config["OUTBOX_DISPATCH"] = False
                results["off"].append(submits(args.submits))
                app.config["OUTBOX_DISPATCH"] = True
                results["up"].append(submits(args.submits))
                assert redis.process is not None
                os.kill(redis.process.pid, signal.SIGSTOP)
                results["hung"].append(submits(args.submits))
                os.kill(redis.process.pid, signal.SIGCONT)
                redis.stop()
                results["refused"].append(submits(args.submits))
                redis.start()
            time.sleep(1)  # let the publisher thread finish before the database goes
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
    print(f"{'broker':<10}{'median ms':>10}{'p99 ms':>9}{'max ms':>9}   per-round medians")
    for phase in phases:
        values = [v for r in results[phase] for v in r]
        rounds = ", ".join(f"{statistics.median(r) * 1000:.1f}" for r in results[phase])
        print(
            f"{phase:<10}{statistics.median(values) * 1000:>10.1f}{q(values, 0.99):>9.1f}"
            f"{max(values) * 1000:>9.1f}   {rounds}"
        )


if __name__ == "__main__":
    main()
