"""Submit benchmark on PostgreSQL: validate, score, transition, audit and outbox of a
40-indicator evaluation, with 10,000 evaluations in the database.

Run: .venv/bin/python bench/bench_submit.py [--evaluations 10000] [--submits 300]
Needs PostgreSQL on 127.0.0.1 (trust). Prints the median and p99 of a submit, next to a
baseline measured in the same run: one UPDATE of one evaluation row and a commit.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

import scoring
from workflow import create_app
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.models import Cycle, Evaluation, IndicatorScore, Org, Project, User, snapshot_for

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def forty_indicator_scheme() -> dict:
    def tier(code: str, name: str, weight: str) -> dict:
        return {
            "code": code,
            "name": name,
            "weight": weight,
            "target": {"op": None, "value": None, "unit": "", "text": "达成"},
            "rule": {"kind": "tier"},
            "rule_text": "按达成、部分达成、未达成三档评分",
        }

    def forward(code: str, name: str, weight: str) -> dict:
        return {
            "code": code,
            "name": name,
            "weight": weight,
            "target": {"op": ">=", "value": "95", "unit": "%", "text": "≥95%"},
            "rule": {"kind": "forward"},
            "rule_text": "完成值/指标值×分值",
        }

    return {
        "name": "bench-40",
        "version": "1",
        "title": "项目支出绩效自评表",
        "total": "100",
        "na_policy": "rescale",
        "tree": [
            {
                "name": "产出指标",
                "weight": "40",
                "children": [
                    {
                        "name": "数量指标",
                        "weight": "20",
                        "indicators": [tier(f"q{i}", f"数量{i}", "2") for i in range(10)],
                    },
                    {
                        "name": "质量指标",
                        "weight": "20",
                        "indicators": [tier(f"k{i}", f"质量{i}", "2") for i in range(10)],
                    },
                ],
            },
            {
                "name": "效益指标",
                "weight": "30",
                "children": [
                    {
                        "name": "社会效益",
                        "weight": "30",
                        "indicators": [tier(f"s{i}", f"社会{i}", "3") for i in range(10)],
                    },
                ],
            },
            {
                "name": "满意度指标",
                "weight": "30",
                "children": [
                    {
                        "name": "服务对象满意度",
                        "weight": "30",
                        "indicators": [forward(f"m{i}", f"满意度{i}", "3") for i in range(10)],
                    },
                ],
            },
        ],
    }


def entries_for(scheme: scoring.Scheme) -> dict:
    out = {}
    for ind in scheme.indicators:
        out[ind.code] = (
            {"actual": "96%"}
            if ind.rule.kind == "forward"
            else {"tier": "达成", "actual": "达成预期目标"}
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evaluations", type=int, default=10_000)
    parser.add_argument("--submits", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    name = f"jixiao_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    tmp = Path(tempfile.mkdtemp())
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
            "VAR_DIR": str(tmp),
            "PDF_DIR": str(tmp / "pdf"),
            "EVIDENCE_DIR": str(tmp / "ev"),
            "OUTBOX_DISPATCH": False,
            "SECRET_KEY": "bench",
        }
    )
    try:
        with app.test_request_context():
            db.create_all()
            scheme_dict = forty_indicator_scheme()
            problems = scoring.validate_scheme(scheme_dict)
            assert not problems, problems
            scheme = scoring.scheme_from_dict(scheme_dict)
            scheme_snapshot = scheme.to_dict()
            entries = entries_for(scheme)
            assert not scoring.score(scheme, entries).blocking
            fin = Org(name="财政", kind="finance")
            dept = Org(name="主管部门", kind="department")
            units = [Org(name=f"单位{i}", kind="unit", parent=dept) for i in range(50)]
            db.session.add_all([fin, dept, *units])
            db.session.flush()
            staff = User(
                username="u", name="填报人", role="unit_staff", org=units[0], password_hash="x"
            )
            db.session.add(staff)
            from datetime import date

            cycle = Cycle(
                year=2024,
                name="bench",
                scheme_key="bench-40",
                scheme_version="1",
                scheme=scheme_snapshot,
                deadline_submit=date(2025, 4, 1),
                deadline_review=date(2025, 4, 15),
                deadline_confirm=date(2025, 5, 1),
            )
            db.session.add(cycle)
            snapshot = snapshot_for(scheme_snapshot)
            db.session.commit()
            # Bulk-load the background evaluations with Core inserts (fast), 40 rows each.
            t0 = time.perf_counter()
            n = args.evaluations
            db.session.execute(
                sa.insert(Project),
                [
                    {"unit_id": units[i % 50].id, "name": f"项目{i}", "summary": ""}
                    for i in range(n)
                ],
            )
            project_ids = db.session.scalars(sa.select(Project.id).order_by(Project.id)).all()
            db.session.execute(
                sa.insert(Evaluation),
                [
                    {
                        "project_id": pid,
                        "cycle_id": cycle.id,
                        "unit_id": units[i % 50].id,
                        "department_id": dept.id,
                        "state": "draft",
                        "version": 1,
                        "scheme_id": snapshot.id,
                        "entries": entries,
                    }
                    for i, pid in enumerate(project_ids)
                ],
            )
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
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
            print(
                f"loaded {n} evaluations x {len(scheme.indicators)} indicators in {time.perf_counter() - t0:.1f}s"
            )

            # Submits by the staff of unit 0 on its own drafts.
            own = db.session.scalars(
                sa.select(Evaluation.id)
                .where(Evaluation.unit_id == units[0].id)
                .order_by(Evaluation.id)
            ).all()[: args.submits]
            user_id = staff.id
            durations = []
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            for eid in own:
                db.session.remove()
                actor = db.session.get(User, user_id)
                _ = actor.org  # the logged-in user is loaded before the request's work
                t = time.perf_counter()
                result = operations.fire(actor, eid, "submit")
                durations.append(time.perf_counter() - t)
                assert (
                    result.evaluation.self_total == Decimal("99.00") or result.evaluation.self_total
                )
            if profiler is not None:
                import pstats

                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
            baseline = []
            for eid in own:
                db.session.remove()
                t = time.perf_counter()
                db.session.execute(
                    sa.update(Evaluation).where(Evaluation.id == eid).values(phone="1")
                )
                db.session.commit()
                baseline.append(time.perf_counter() - t)

        def q(values: list[float], p: float) -> float:
            values = sorted(values)
            return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] * 1000

        print(
            f"submits: {len(durations)} on {args.evaluations} evaluations ({len(scheme.indicators)} indicators)"
        )
        print(
            f"submit   median {statistics.median(durations) * 1000:.2f} ms   p99 {q(durations, 0.99):.2f} ms"
        )
        print(
            f"baseline median {statistics.median(baseline) * 1000:.2f} ms   p99 {q(baseline, 0.99):.2f} ms"
            "   (one-row UPDATE + commit)"
        )
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
