"""The web benchmark on PostgreSQL, with every evaluation on its own targets (issue 11).

Run: .venv/bin/python bench/bench_web.py --postgresql [--evaluations 100000]

``bench_web.py`` measures, this module builds: a fresh database (``BENCH_PG_DB``, default
``bench_web_targets``) on the PostgreSQL of ``BENCH_PG_ADMIN_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) holding the demo world plus N
evaluations of the 40-indicator scheme. Unlike the SQLite run, each evaluation has a project
of its own with its own approved targets: a ``project_targets`` row and a ``target_versions``
row whose 29 indicator rows carry the project's own names and values (so every version has
its own digest and is stored once per project, as the app stores it). The evaluation
references its own version; the form page compiles the framework plus that version.

The two baselines read the same database: the ORM one through Flask-SQLAlchemy as on
SQLite, the raw one through psycopg on a connection kept open per worker.

After the build it measures what a project's targets cost in bytes: the targets tables'
``pg_total_relation_size`` (heap, TOAST and indexes) and the ``pg_column_size`` of their
stored rows, each divided by the number of evaluations.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from typing import Any

ADMIN_URL = os.environ.get(
    "BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = os.environ.get("BENCH_PG_DB", "bench_web_targets")

BASELINE_RAW = '''
import os
import psycopg
from flask import Flask
from jinja2 import Environment

app = Flask(__name__)
DSN = os.environ["BENCH_PG_DSN"]
TEMPLATE = Environment(autoescape=True).from_string("""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>baseline</title></head>
<body><table>{% for r in rows %}<tr><td>{{ r[0] }}</td><td>{{ r[1] }}</td><td>{{ r[2] }}</td><td>{{ r[3] }}</td><td>{{ r[4] }}</td></tr>{% endfor %}</table></body></html>""")


_con = None


@app.route("/")
def index():
    # One connection per worker process, kept open, autocommit: the cheapest read here.
    global _con
    if _con is None:
        _con = psycopg.connect(DSN, autocommit=True)
    rows = _con.execute(
        "SELECT e.id, p.name, e.state, e.self_total, e.self_grade FROM evaluations e "
        "JOIN projects p ON p.id = e.project_id ORDER BY e.id LIMIT 50"
    ).fetchall()
    return TEMPLATE.render(rows=rows)
'''


def database_url() -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{DB_NAME}"


def libpq_dsn() -> str:
    return database_url().replace("postgresql+psycopg://", "postgresql://", 1)


def recreate_database() -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        con.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    engine.dispose()


def _own_rows(template: dict[str, Any], rng: random.Random, n: int) -> dict[str, Any]:
    """The template version's rows with this project's own names and target values."""
    rows = []
    for row in template["rows"]:
        own = dict(row)
        own["name"] = f"{row['name']}（项目{n:06d}）"
        if row.get("nature") in (">=", "<="):
            own["value"] = str(rng.randrange(50, 5000))
        rows.append(own)
    return {
        "goal": f"项目{n:06d}的年度总体目标：按计划完成建设和运维，提升服务能力。",
        "rows": rows,
    }


def build(app_config: Any, count: int, password: str) -> dict[str, Any]:
    """The demo world plus ``count`` evaluations, each on its own project and approved
    targets; returns the ids the URLs need and the targets' bytes per evaluation."""
    import bench_web
    from sqlalchemy import insert, select, text

    import scoring
    from workflow import create_app
    from workflow.core.extensions import db
    from workflow.evaluations import operations
    from workflow.models import Cycle, Evaluation, Org, Project
    from workflow.models.digest import snapshot_digest
    from workflow.models.targets import TargetSet, TargetVersion
    from workflow.targets import imports as targets_imports

    recreate_database()
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
        result = app.test_cli_runner().invoke(args=["demo", "--password", password])
        assert result.exit_code == 0, result.output + repr(result.exception)
        scheme_dict = bench_web.scheme_40()
        scheme = scoring.scheme_from_dict(scheme_dict)
        snapshot = scheme.to_dict()
        entries = bench_web.entries_for(scheme)
        demo = db.session.scalars(select(Cycle)).first()
        cycle = Cycle(
            year=2023,
            name="基准测试任务（40 项指标）",
            scheme_key="bench-web-40",
            scheme_version="1",
            scheme=snapshot,
            deadline_submit=demo.deadline_submit,
            deadline_review=demo.deadline_review,
            deadline_confirm=demo.deadline_confirm,
        )
        db.session.add(cycle)
        units = db.session.scalars(
            select(Org).where(Org.kind == "unit", Org.parent_id.is_not(None))
        ).all()
        dept_units = [u for u in units if u.name != "江苏省大数据管理中心"]
        unit_a = next(u for u in units if u.name == "江苏省政务服务管理办公室（机关）")
        form_project = Project(unit=unit_a, name="基准测试：40 项指标的自评表", summary="基准测试")
        db.session.add(form_project)
        cycle.framework = targets_imports.framework_record_of_scheme(snapshot)
        db.session.flush()
        form_targets = targets_imports.approve_as_imported(
            form_project,
            cycle,
            targets_imports.split_for_layout(snapshot)[1],
            user=None,
            source="bench",
            actor_name="基准测试",
        )
        form_ev = operations.create_evaluation(form_project, cycle, entries)
        db.session.commit()
        form_id = form_ev.id
        template = form_targets.current_version.rows
        rng = random.Random(11)
        now = datetime.now(UTC)
        made = 0
        while made < count - 1:
            n = min(1000, count - 1 - made)
            projects = [
                {
                    "unit_id": rng.choice(dept_units).id,
                    "name": f"项目{made + i:06d}：政务平台运维与升级",
                    "summary": "",
                    "amount_unit": "万元",
                }
                for i in range(n)
            ]
            project_ids = list(db.session.scalars(insert(Project).returning(Project.id), projects))
            own = [_own_rows(template, rng, made + i) for i in range(n)]
            set_ids = list(
                db.session.scalars(
                    insert(TargetSet).returning(TargetSet.id),
                    [
                        {
                            "project_id": pid,
                            "cycle_id": cycle.id,
                            "unit_id": p["unit_id"],
                            "department_id": unit_a.parent_id,
                            "state": "approved",
                            "version": 1,
                            "pending_kind": "initial",
                            "pending_reason": "",
                            "return_reason": "",
                            "goal": o["goal"],
                            "updated_at": now,
                            # As approve_version leaves it: the version holds the rows.
                            "draft": {},
                        }
                        for pid, p, o in zip(project_ids, projects, own, strict=True)
                    ],
                )
            )
            versions = []
            for sid, rows in zip(set_ids, own, strict=True):
                versions.append(
                    {
                        "targets_id": sid,
                        "number": 1,
                        "kind": "initial",
                        "reason": "",
                        "created_at": now,
                        "approved_at": now,
                        "source": "",
                        "digest": snapshot_digest(rows),
                        "rows": rows,
                    }
                )
            version_ids = list(
                db.session.scalars(insert(TargetVersion).returning(TargetVersion.id), versions)
            )
            db.session.execute(
                text(
                    "UPDATE project_targets pt SET current_version_id = tv.id "
                    "FROM target_versions tv WHERE tv.targets_id = pt.id "
                    "AND pt.current_version_id IS NULL"
                )
            )
            bench_web.add_evaluations(
                rng,
                scheme,
                entries,
                form_ev,
                unit_a.parent_id,
                cycle.id,
                [
                    (pid, p["unit_id"], vid)
                    for pid, p, vid in zip(project_ids, projects, version_ids, strict=True)
                ],
                now,
            )
            db.session.commit()
            made += n
            if made % 10000 < 1000:
                print(f"  {made + 1:,} evaluations", flush=True)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        total_evaluations = db.session.scalar(select(db.func.count()).select_from(Evaluation))
        storage = targets_storage(db.session, total_evaluations)
    return {
        "form_id": form_id,
        "evaluations": total_evaluations,
        "indicators": len(scheme.indicators),
        "targets_storage": storage,
    }


def reuse(app_config: Any, count: int) -> dict[str, Any] | None:
    """The ids and the storage figures of a database an earlier run built with at least
    ``count`` evaluations (the build takes about 17 minutes here), or None."""
    from sqlalchemy import create_engine, select, text

    engine = create_engine(ADMIN_URL)
    with engine.connect() as con:
        found = con.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DB_NAME}
        ).first()
    engine.dispose()
    if found is None:
        return None
    from workflow import create_app
    from workflow.core.extensions import db
    from workflow.models import Evaluation, Project

    app = create_app(app_config)
    with app.app_context():
        db.create_all()  # a table added since the database was built (only what is missing)
        total = db.session.scalar(select(db.func.count()).select_from(Evaluation))
        form_id = db.session.scalar(
            select(Evaluation.id).join(Project).where(Project.name == "基准测试：40 项指标的自评表")
        )
        if total < count or form_id is None:
            return None
        # The drafts the measured form page opens must still be drafts (nothing writes).
        return {
            "form_id": form_id,
            "evaluations": total,
            "indicators": 40,
            "targets_storage": targets_storage(db.session, total),
            "reused": True,
        }


def targets_storage(session: Any, evaluations: int) -> dict[str, Any]:
    """Bytes per evaluation of the targets: whole relations (heap, TOAST, indexes, free
    space) and the stored rows alone (pg_column_size of each row, TOAST-compressed)."""
    from sqlalchemy import text

    out: dict[str, Any] = {"evaluations": evaluations}
    total = 0
    for table in ("project_targets", "target_versions"):
        size = session.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
        rows = session.scalar(text(f"SELECT sum(pg_column_size(t.*)) FROM {table} t"))
        count = session.scalar(text(f"SELECT count(*) FROM {table}"))
        out[table] = {"relation_bytes": size, "row_bytes": int(rows or 0), "rows": count}
        total += size
    rows_json = session.scalar(text("SELECT avg(pg_column_size(rows)) FROM target_versions"))
    out["relation_bytes_per_evaluation"] = round(total / evaluations, 1)
    out["row_bytes_per_evaluation"] = round(
        sum(out[t]["row_bytes"] for t in ("project_targets", "target_versions")) / evaluations, 1
    )
    out["version_rows_json_avg_bytes"] = round(float(rows_json or 0), 1)
    return out
