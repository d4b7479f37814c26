"""抽查复核 over a million evaluations (issue 16: risk rules and sampling under 5 s a batch).

    .venv/bin/python bench/bench_recheck.py [--n 1000000] [--repeat 3] [--reuse]

``--reuse`` keeps the database (``jixiao_bench_recheck_<n>``, about 1.5 min to build a million
rows) for the next run, which drops only the earlier runs' batches.

Builds a throw-away PostgreSQL database with N submitted evaluations of one cycle (2,000
units under 50 departments) and their risk facts, generated in the database with
INSERT ... SELECT generate_series (about one in five is flagged by some rule), then times,
in the same run:

- the baseline: a plain SELECT count(*) over the same join and filter, and the same rows
  fetched into Python with no rule applied;
- ``draw_sample`` (every risk rule over every row, then the sample) for each method at 5%;
- ``create_batch`` end to end (facts check, rules, sample, 50,000 items, the audit row).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))


def populate(n: int) -> int:
    from sqlalchemy import text

    from workflow.core.extensions import db

    run = lambda sql, **kw: db.session.execute(text(sql), kw)  # noqa: E731
    run("ALTER TABLE evaluations DISABLE TRIGGER USER")  # the counts' triggers: not measured
    run("INSERT INTO orgs (id, name, kind, active) VALUES (1, '财政厅', 'finance', true)")
    run(
        "INSERT INTO orgs (id, name, kind, active) SELECT 1 + d, '主管部门' || d, 'department', "
        "true FROM generate_series(1, 50) d"
    )
    run(
        "INSERT INTO orgs (id, name, kind, parent_id, active) SELECT 100 + u, '预算单位' || u, "
        "'unit', 2 + (u % 50), true FROM generate_series(1, 2000) u"
    )
    run("SELECT setval('orgs_id_seq', 5000)")
    run(
        "INSERT INTO users (id, username, name, role, org_id, active, session_token, "
        "password_hash, created_at, must_change_password, failed_logins, totp_failures) "
        "VALUES (1, 'fin', '财政', 'finance', 1, true, 'x', 'x', now(), false, 0, 0)"
    )
    run(
        "INSERT INTO cycles (id, year, name, scheme_key, scheme_version, scheme, "
        "deadline_submit, deadline_review, deadline_confirm, reminder_days, day_kind, active, "
        "created_at) VALUES (1, 2025, '基准', 'x', '1', '{}', '2026-03-31', '2026-04-30', "
        "'2026-05-31', '[7,3,1]', 'calendar', true, now())"
    )
    run("INSERT INTO scheme_snapshots (id, digest, name, version, content, created_at) "
        "VALUES (1, 'x', 'x', '1', '{}', now())")  # fmt: skip
    run(
        "INSERT INTO projects (id, unit_id, name, summary, amount_unit) "
        "SELECT i, 101 + (i % 2000), '项目' || i, '', '万元' FROM generate_series(1, :n) i",
        n=n,
    )
    # Self totals 60–99.99; the department's review 0–9.99 lower (one in two 5 or more lower
    # when i % 2 = 0 … by the hash below about 20% are flagged by some rule).
    run(
        """
        INSERT INTO evaluations (id, project_id, cycle_id, unit_id, department_id, state,
            version, scheme_id, self_total, self_grade, dept_total, dept_grade, main_results,
            problems, measures, filled_by, phone, unit_head, stage_entered_at, created_at,
            updated_at, entries)
        SELECT i, i, 1, 101 + (i % 2000), 2 + ((1 + (i % 2000)) % 50),
            (ARRAY['self_scored','dept_review','finance_confirmation','confirmed'])[1 + i % 4],
            1, 1, s, CASE WHEN s >= 90 THEN '优' WHEN s >= 80 THEN '良' WHEN s >= 60 THEN '中'
            ELSE '差' END, s - ((i * 13) % 1000) / 100.0 * (CASE WHEN i % 10 = 0 THEN 1 ELSE 0.4 END),
            NULL, '', '', '', '', '', '', now(), now(), now(), '{}'
        FROM (SELECT i, 60 + ((i * 37) % 4000) / 100.0 AS s FROM generate_series(1, :n) i) g
        """,
        n=n,
    )
    run(
        """
        INSERT INTO risk_facts (evaluation_id, evaluation_version, cycle_id, department_id,
            self_total, self_grade, dept_total, execution_rate, qualitative_rows,
            qualitative_full, shortfall_full, over_no_reason, tier_mismatch, adjusted_on, adjusted_month,
            computed_at)
        SELECT e.id, 1, 1, e.department_id, e.self_total, e.self_grade, e.dept_total,
            (20 + (e.id * 17) % 81) / 100.0, 10, CASE WHEN e.id % 13 = 0 THEN 10 ELSE 8 END,
            CASE WHEN e.id % 97 = 0 THEN 1 ELSE 0 END, (80 + (e.id * 7) % 60) / 100.0,
            CASE WHEN e.id % 89 = 0 THEN 1 ELSE 0 END,
            CASE WHEN e.id % 50 = 0 THEN DATE '2025-11-15' ELSE NULL END,
            CASE WHEN e.id % 50 = 0 THEN 11 ELSE NULL END, now()
        FROM evaluations e
        """
    )
    run("ALTER TABLE evaluations ENABLE TRIGGER USER")
    db.session.commit()
    run("ANALYZE")
    db.session.commit()
    return n


def _median(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    from workflow.core.extensions import db

    times, result = [], None
    for _ in range(repeat):
        db.session.remove()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
        db.session.rollback()
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database (jixiao_bench_recheck_<n>) and use it again next time",
    )
    args = parser.parse_args()

    from sqlalchemy import select, text
    from task_live_helpers import _pg_exec

    from workflow import create_app
    from workflow.core.extensions import db
    from workflow.models import Evaluation, RiskFacts, User
    from workflow.rechecks import facts, operations

    tmp = Path(tempfile.mkdtemp())
    name = f"jixiao_bench_recheck_{args.n if args.reuse else uuid.uuid4().hex[:8]}"
    try:
        _pg_exec(f'CREATE DATABASE "{name}"')
        fresh = True
    except Exception:  # noqa: BLE001 - it exists: --reuse
        if not args.reuse:
            raise
        fresh = False
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "VAR_DIR": str(tmp),
         "PDF_DIR": str(tmp / "pdf"), "OUTBOX_DISPATCH": False,
         "SECRET_KEY": "bench-secret-key-0123456789abcdef0123"}
    )  # fmt: skip
    try:
        with app.app_context():
            if fresh:
                db.create_all()
                t = time.perf_counter()
                populate(args.n)
                print(f"{args.n:,} evaluations and their risk facts built in "
                      f"{time.perf_counter() - t:.1f} s (PostgreSQL)")  # fmt: skip
            else:  # the batches of an earlier run go; the evaluations stay
                db.session.execute(text("DELETE FROM recheck_items"))
                db.session.execute(text("DELETE FROM recheck_batches"))
                db.session.commit()
                print(f"reusing {name} ({args.n:,} evaluations)")
            e, f = Evaluation.__table__.c, RiskFacts.__table__.c
            joined = Evaluation.__table__.join(RiskFacts.__table__, f.evaluation_id == e.id)
            where = (e.cycle_id == 1, e.state.in_(facts.SUBMITTED_STATES))
            count, total = _median(
                lambda: db.session.execute(
                    select(text("count(*)")).select_from(joined).where(*where)
                ).scalar(),
                args.repeat,
            )
            fetch, _ = _median(
                lambda: len(
                    db.session.execute(
                        select(e.id, e.department_id, e.self_grade, f.tier_mismatch)
                        .select_from(joined).where(*where)
                    ).all()
                ),
                args.repeat,
            )  # fmt: skip
            print(f"baseline: SELECT count(*) over the {total:,} rows {count:.3f} s; the same "
                  f"rows fetched into Python, no rules {fetch:.3f} s")  # fmt: skip
            for method in ("risk", "uniform", "department", "grade"):
                took, drawn = _median(
                    lambda m=method: operations.draw_sample(1, m, 20251231, rate=0.05),
                    args.repeat,
                )
                flagged = sum(1 for p in drawn.picked if p[3])  # type: ignore[attr-defined]
                print(f"draw_sample {method:<10} rules + sample of {drawn.population:,}: "  # type: ignore[attr-defined]
                      f"{took:.3f} s ({took / count:.1f} × the count); "
                      f"{len(drawn.picked):,} drawn, {flagged:,} with risk findings")  # type: ignore[attr-defined]  # fmt: skip
            finance = db.session.get(User, 1)
            times = []
            for k in range(args.repeat):
                db.session.remove()
                finance = db.session.get(User, 1)
                t = time.perf_counter()
                batch = operations.create_batch(
                    finance, 1, f"基准{k}", "risk", 1000 + k, rate=Decimal("0.05")
                )
                times.append(time.perf_counter() - t)
                size = len(batch.items)
            print(f"create_batch end to end (risk, 5%, {size:,} items, audit): median "
                  f"{statistics.median(times):.2f} s, max {max(times):.2f} s (limit 5 s)")  # fmt: skip
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.reuse:
            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
