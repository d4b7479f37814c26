"""The password step of the login for an unknown name, a known name with a wrong password and
a known name with the right one: the same answer and the same time, so that the response
does not tell whether an account exists (issue 14, 身份鉴别 b).

Run: .venv/bin/python bench/bench_login.py [--pairs 30]
In-process (Flask's test client, SQLite in a temporary directory): what is measured is the
server's work, without the network. The three kinds are interleaved, so that load on the
machine falls on all alike; the lock is set high so that the failures of the run never lock
the account.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workflow import create_app
from workflow.core.extensions import db
from workflow.models import Org, User

PASSWORD = "Kite-Lantern-27"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'login.sqlite3'}",
            "VAR_DIR": str(tmp),
            "PDF_DIR": str(tmp / "pdf"),
            "EVIDENCE_DIR": str(tmp / "ev"),
            "SECRET_KEY": "bench-login",
            "LOCKOUT_THRESHOLD": 1_000_000,
            "LOGIN_RATE_LIMIT": "1000000 per minute",
            "OUTBOX_DISPATCH": False,
            "WTF_CSRF_ENABLED": False,  # the form is posted without its page
        }
    )
    with app.app_context():
        db.create_all()
        org = Org(name="财政厅", kind="finance")
        user = User(username="known", name="已知", role="finance", org=org, password_hash="")
        user.set_password(PASSWORD)
        db.session.add_all([org, user])
        db.session.commit()
    cases = {
        "unknown name": ("nobody_here", "Wrong-pass-1"),
        "known, wrong password": ("known", "Wrong-pass-1"),
        "known, right password": ("known", PASSWORD),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    statuses: dict[str, set[int]] = {k: set() for k in cases}
    for round_ in range(args.pairs + 2):
        for name, (username, password) in cases.items():
            client = app.test_client()
            start = time.perf_counter()
            resp = client.post("/login", data={"username": username, "password": password})
            elapsed = time.perf_counter() - start
            if round_ >= 2:  # two warm-up rounds
                times[name].append(elapsed)
                statuses[name].add(resp.status_code)
    print(f"password step of /login, {args.pairs} interleaved rounds, in-process, SQLite")
    print(f"{'case':<24}{'median ms':>10}{'p90 ms':>9}  status")
    for name, values in times.items():
        values.sort()
        p90 = values[int(0.9 * (len(values) - 1))]
        print(
            f"{name:<24}{statistics.median(values) * 1000:>10.1f}{p90 * 1000:>9.1f}"
            f"  {sorted(statuses[name])}"
        )
    ratio = statistics.median(times["unknown name"]) / statistics.median(
        times["known, wrong password"]
    )
    print(f"unknown / known-wrong median ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
