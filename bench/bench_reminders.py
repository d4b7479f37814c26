"""Reminder scan over many evaluations (issue 5: 100,000 under 1 s to find what is due).

    .venv/bin/python bench/bench_reminders.py [--n 100000] [--db postgresql|sqlite]

Builds N evaluations (2,000 units under 50 departments, two users per unit and per
department, five finance users; states spread over the workflow) in a fresh database,
then times `find_due` (what is due, read only: one set-based query per cycle and stage)
and `claim_due` (claims and notices inserted) on a day when every stage has a step due.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

STATES = (
    ["draft"] * 4
    + ["self_scored"] * 2
    + ["dept_review"] * 2
    + ["finance_confirmation", "confirmed"]
)


def populate(n: int) -> None:
    from workflow.core.extensions import db
    from workflow.models import Cycle, Evaluation, Org, Project, User, snapshot_for

    engine_conn = db.session.connection()
    snapshot = snapshot_for({})
    db.session.flush()
    snapshot_id = snapshot.id
    finance = Org(name="财政厅", kind="finance")
    db.session.add(finance)
    departments = [Org(name=f"主管部门{i}", kind="department") for i in range(50)]
    db.session.add_all(departments)
    db.session.flush()
    units = [
        Org(name=f"预算单位{i}", kind="unit", parent_id=departments[i % 50].id) for i in range(2000)
    ]
    db.session.add_all(units)
    db.session.flush()
    users = []
    for org, role in [(u, "unit_staff") for u in units] + [(u, "unit_head") for u in units]:
        users.append(
            {"username": f"{role}{org.id}", "name": "用户", "role": role, "org_id": org.id}
        )
    for dept in departments:
        for k in range(2):
            users.append(
                {
                    "username": f"rev{dept.id}_{k}",
                    "name": "审核",
                    "role": "reviewer",
                    "org_id": dept.id,
                }
            )
    for k in range(5):
        users.append(
            {"username": f"fin{k}", "name": "财政", "role": "finance", "org_id": finance.id}
        )
    for u in users:
        u.update(
            email=f"{u['username']}@example.test",
            password_hash="x",
            active=True,
            session_token=uuid.uuid4().hex,
        )
    engine_conn.execute(User.__table__.insert(), users)
    cycle = Cycle(
        year=2025, name="基准测试", scheme_key="x", scheme_version="1", scheme={},
        deadline_submit=date(2026, 3, 31), deadline_review=date(2026, 4, 3),
        deadline_confirm=date(2026, 4, 9), reminder_days=[7, 3, 1], day_kind="calendar",
    )  # fmt: skip
    db.session.add(cycle)
    db.session.flush()
    batch = 20_000
    for start in range(0, n, batch):
        count = min(batch, n - start)
        projects = [
            {"unit_id": units[(start + i) % 2000].id, "name": f"项目{start + i}", "summary": ""}
            for i in range(count)
        ]
        ids = [
            r[0]
            for r in engine_conn.execute(
                Project.__table__.insert().returning(Project.__table__.c.id), projects
            )
        ]
        rows = []
        for i, project_id in enumerate(ids):
            unit = units[(start + i) % 2000]
            rows.append(
                {
                    "project_id": project_id, "cycle_id": cycle.id, "unit_id": unit.id,
                    "department_id": unit.parent_id, "state": STATES[(start + i) % len(STATES)],
                    "version": 1, "scheme_id": snapshot_id, "entries": {},
                }
            )  # fmt: skip
        engine_conn.execute(Evaluation.__table__.insert(), rows)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from workflow import create_app
    from workflow.core.extensions import db
    from workflow.reminders.operations import claim_due, find_due

    tmp = Path(tempfile.mkdtemp())
    name = f"jixiao_bench_rem_{uuid.uuid4().hex[:8]}"
    if args.db == "postgresql":
        from task_live_helpers import _pg_exec

        _pg_exec(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "VAR_DIR": str(tmp), "PDF_DIR": str(tmp / "pdf"),
         "SECRET_KEY": "bench-secret-key-0123456789abcdef0123"}
    )  # fmt: skip
    try:
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            populate(args.n)
            if args.db == "postgresql":
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()
            print(
                f"{args.n} evaluations built in {time.perf_counter() - started:.1f} s ({args.db})"
            )
            # 2026-03-31 09:00 China time: submit is due today (d1), review in 3 days (d3),
            # confirm in 9 days (nothing yet).
            moment = datetime(2026, 3, 31, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
            times = []
            for _ in range(args.repeat):
                db.session.remove()
                t = time.perf_counter()
                found = find_due(moment)
                times.append(time.perf_counter() - t)
            pairs = sum(len(p) for _, p in found)
            evaluations = len({e for _, p in found for e, _ in p})
            print(
                f"find_due: {pairs} (evaluation, person) reminders due for {evaluations} evaluations; "
                f"median {statistics.median(times):.3f} s, min {min(times):.3f} s (limit 1 s)"
            )
            t = time.perf_counter()
            result = claim_due(moment)
            print(
                f"claim_due: {len(result.claim_ids)} claims + notices inserted in {time.perf_counter() - t:.2f} s"
            )
            t = time.perf_counter()
            again = claim_due(moment)
            print(
                f"claim_due again at the same moment: {len(again.claim_ids)} new, {time.perf_counter() - t:.3f} s"
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        if args.db == "postgresql":
            from task_live_helpers import _pg_exec

            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
