"""Web benchmark: the review queue and the form page under wrk, next to two bare Flask baselines.

Run: .venv/bin/python bench/bench_web.py [--evaluations 10000] [--duration 10] [--connections 16]

It builds a SQLite file under bench/out/web/ with the demo world plus N evaluations of a
40-indicator scheme (the queue's department holds them all), starts gunicorn with 2 workers on
127.0.0.1 for the app and for two bare Flask apps that render 50 rows of the same file through
a Jinja2 template, and runs wrk against every URL in the same run:

- baseline (orm): a bare Flask route that reads 50 rows with Flask-SQLAlchemy (ORM entities)
  and renders a Jinja2 template file: the baseline ../shared/environment.md describes and
  measured (about 1,100 req/s). The queue target is judged against this one;
- baseline (raw): the same rows through the sqlite3 module and a template compiled once, no
  ORM: the floor of any Flask page here, reported beside it;
- queue: /review/ as the reviewer (50 rows of the 10,000, filtered by state, by deadline);
- queue, cold rows: the same page from a second app that keeps nothing (LIST_ROW_CACHE=0 and
  LIST_PAGE_CACHE=0): every row read and rendered on every request;
- form: /evaluations/<id>/edit as the unit (40 indicators, scored on every request).

The URLs take turns for --rounds passes of --duration seconds each (the machine is shared and
noisy); every figure is the median over the passes, each ratio the median of the per-pass
ratios (each pass against its own baselines), and the worst pass is kept beside them in
bench/out/web/results.json.

Targets (issue 4): queue ≥ half the baseline's requests per second; p99 < 100 ms for both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from web_login import OUT, PASSWORD, SECRET, app_config, session_cookie
from web_servers import (  # bench/ is the script's own folder on sys.path
    BASELINE,
    BASELINE_ORM,
    ROWS_TEMPLATE,
    USER_AGENT,
    NoRedirect,
    free_port,
    start_gunicorn,
    stop,
    wrk,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STATES = ("draft", "self_scored", "dept_review", "finance_confirmation", "confirmed")


def scheme_40() -> dict:
    """A 40-indicator scheme using the rule kinds a real form mixes."""

    def leaf(
        code: str, name: str, weight: str, kind: str, target: dict, rule_text: str, **rule: object
    ) -> dict:
        return {
            "code": code,
            "name": name,
            "weight": weight,
            "target": target,
            "rule": {"kind": kind, **rule},
            "rule_text": rule_text,
        }

    words = {"op": None, "value": None, "unit": "", "text": "达成"}
    checklist_text = (
        "评价要点：①是否符合规定；②是否经过论证；③是否与任务匹配。评分规则：以上评价要点各占1/3权重，"
        "每个要点执行情况分达成、部分达成、未达成三档，按100%-80%（含）、80%-60%（含）、60%-0%评分。"
    )
    points = ["是否符合规定", "是否经过论证", "是否与任务匹配"]

    def checklist(code: str, name: str, weight: str) -> dict:
        return leaf(code, name, weight, "checklist", words, checklist_text, points=points)

    return {
        "name": "bench-web-40",
        "version": "1",
        "title": "项目支出绩效自评表",
        "total": "100",
        "na_policy": "rescale",
        "tree": [
            {
                "name": "决策",
                "weight": "12",
                "children": [
                    {
                        "name": "项目立项",
                        "weight": None,
                        "indicators": [checklist(f"d{i}", f"决策指标{i}", "2") for i in range(6)],
                    },
                ],
            },
            {
                "name": "过程",
                "weight": "18",
                "children": [
                    {
                        "name": "资金管理",
                        "weight": None,
                        "indicators": [
                            leaf(
                                "r0",
                                "预算执行率",
                                "3",
                                "ratio",
                                {"op": None, "value": "100", "unit": "%", "text": "100%"},
                                "得分=预算执行率×分值",
                                numerator_label="实际支出",
                                denominator_label="实际到位",
                            ),
                            leaf(
                                "r1",
                                "资金到位率",
                                "3",
                                "ratio",
                                {"op": None, "value": "100", "unit": "%", "text": "100%"},
                                "得分=资金到位率×分值",
                                numerator_label="实际到位",
                                denominator_label="预算资金",
                            ),
                            checklist("c0", "资金使用合规性", "4"),
                        ],
                    },
                    {
                        "name": "组织实施",
                        "weight": None,
                        "indicators": [
                            checklist("c1", "制度执行有效性", "6"),
                            checklist("c2", "管理制度健全性", "2"),
                        ],
                    },
                ],
            },
            {
                "name": "产出",
                "weight": "30",
                "children": [
                    {
                        "name": "数量指标",
                        "weight": None,
                        "indicators": [
                            leaf(
                                f"f{i}",
                                f"完成数量{i}",
                                "3",
                                "forward",
                                {"op": ">=", "value": "100", "unit": "个", "text": "≥100个"},
                                "完成值/指标值×分值",
                            )
                            for i in range(10)
                        ],
                    },
                ],
            },
            {
                "name": "效益",
                "weight": "30",
                "children": [
                    {
                        "name": "社会效益",
                        "weight": None,
                        "indicators": [
                            leaf(
                                f"t{i}",
                                f"社会效益{i}",
                                "3",
                                "tier",
                                words,
                                "按达成、部分达成、未达成三档评分",
                            )
                            for i in range(10)
                        ],
                    },
                ],
            },
            {
                "name": "满意度",
                "weight": "10",
                "children": [
                    {
                        "name": "服务对象满意度",
                        "weight": None,
                        "indicators": [
                            leaf(
                                f"m{i}",
                                f"满意度{i}",
                                "2" if i == 0 else "1",
                                "satisfaction",
                                {"op": ">=", "value": "90", "unit": "%", "text": "≥90%"},
                                "完成值/指标值×分值",
                            )
                            for i in range(9)
                        ],
                    },
                ],
            },
        ],
    }


def entries_for(scheme: object) -> dict:
    out: dict[str, dict] = {}
    for ind in scheme.indicators:  # type: ignore[attr-defined]
        kind = ind.rule.kind
        if kind == "checklist":
            out[ind.code] = {"points": ["达成"] * len(ind.rule.points)}
        elif kind == "ratio":
            out[ind.code] = {"numerator": "1,234.5", "denominator": "1,300"}
        elif kind == "tier":
            out[ind.code] = {"tier": "达成", "actual": "达成预期目标"}
        elif kind == "forward":
            out[ind.code] = {"actual": "100"}
        else:
            out[ind.code] = {"actual": "95%"}
    return out


def add_evaluations(
    rng: random.Random,
    scheme: object,
    entries: dict,
    form_ev: object,
    department_id: int,
    cycle_id: int,
    projects: list[tuple[int, int, int]],
    now: datetime,
) -> None:
    """One evaluation in a random state per (project id, unit id, target version id), with
    its indicator rows: the bulk rows both benchmark databases are built from."""
    from sqlalchemy import insert

    import scoring
    from workflow.core.extensions import db
    from workflow.models import Evaluation, IndicatorScore

    rows = []
    for pid, unit_id, version_id in projects:
        state = STATES[rng.randrange(len(STATES))]
        total = Decimal(rng.randrange(6000, 10000)) / 100
        scored = state != "draft"
        late = state in ("finance_confirmation", "confirmed")
        rows.append(
            {
                "project_id": pid,
                "cycle_id": cycle_id,
                "unit_id": unit_id,
                "department_id": department_id,
                "state": state,
                "version": 1,
                "scheme_id": form_ev.scheme_id,  # type: ignore[attr-defined]
                "framework_id": form_ev.framework_id,  # type: ignore[attr-defined]
                "target_version_id": version_id,
                "entries": entries,
                "self_total": total if scored else None,
                "self_grade": scoring.grade_for(total) if scored else None,
                "dept_total": total if late else None,
                "dept_grade": scoring.grade_for(total) if late else None,
                "submitted_at": now - timedelta(minutes=rng.randrange(100000)) if scored else None,
                "stage_entered_at": now,
                "created_at": now,
                "updated_at": now,
                "main_results": "",
                "problems": "",
                "measures": "",
                "filled_by": "",
                "phone": "",
                "unit_head": "",
            }
        )
    ev_ids = list(db.session.scalars(insert(Evaluation).returning(Evaluation.id), rows))
    db.session.execute(
        insert(IndicatorScore),
        [
            {"evaluation_id": eid, "code": ind.code, "position": i, "weight": ind.weight}
            for eid in ev_ids
            for i, ind in enumerate(scheme.indicators)  # type: ignore[attr-defined]
        ],
    )


def build(db_path: Path, count: int) -> dict[str, object]:
    """The demo world plus `count` evaluations; returns the ids the URLs need."""
    os.environ["JIXIAO_VAR"] = str(OUT / "var")
    from sqlalchemy import insert, select

    import scoring
    from workflow import create_app
    from workflow.core.extensions import db
    from workflow.evaluations import operations
    from workflow.models import Cycle, Evaluation, Org, Project

    app = create_app(app_config(db_path))
    with app.app_context():
        db.create_all()
        result = app.test_cli_runner().invoke(args=["demo", "--password", PASSWORD])
        assert result.exit_code == 0, result.output + repr(result.exception)
        scheme_dict = scheme_40()
        scheme = scoring.scheme_from_dict(scheme_dict)
        snapshot = scheme.to_dict()
        entries = entries_for(scheme)
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
        target_project = Project(
            unit=unit_a, name="基准测试：40 项指标的自评表", summary="基准测试"
        )
        db.session.add(target_project)
        # A self-evaluation starts from approved targets (issue 11): the 40-indicator
        # scheme's own rows, put in force as finance's import does.
        from workflow.targets import imports as targets_imports

        cycle.framework = targets_imports.framework_record_of_scheme(snapshot)
        db.session.flush()
        targets_imports.approve_as_imported(
            target_project,
            cycle,
            targets_imports.split_for_layout(snapshot)[1],
            user=None,
            source="bench",
            actor_name="基准测试",
        )
        form_ev = operations.create_evaluation(target_project, cycle, entries)
        db.session.commit()
        form_id = form_ev.id
        rng = random.Random(7)
        now = datetime.now(UTC)
        batch = 1000
        made = 0
        while made < count - 1:
            n = min(batch, count - 1 - made)
            projects = [
                {
                    "unit_id": rng.choice(dept_units).id,
                    "name": f"项目{made + i:05d}：政务平台运维与升级",
                    "summary": "",
                    "amount_unit": "万元",
                }
                for i in range(n)
            ]
            ids = list(db.session.scalars(insert(Project).returning(Project.id), projects))
            add_evaluations(
                rng,
                scheme,
                entries,
                form_ev,
                unit_a.parent_id,
                cycle.id,
                [
                    (pid, p["unit_id"], form_ev.target_version_id)
                    for pid, p in zip(ids, projects, strict=True)
                ],
                now,
            )
            db.session.commit()
            made += n
        total_evaluations = db.session.query(Evaluation).count()
    return {
        "form_id": form_id,
        "evaluations": total_evaluations,
        "indicators": len(scheme.indicators),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=7, help="passes over the five URLs (the machine is shared)"
    )
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="build on PostgreSQL, every evaluation on its own targets (bench_web_pg.py)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --postgresql: measure the database an earlier run built, if it is there",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    t0 = time.time()
    if args.postgresql:
        import bench_web_pg

        db_path: Path | str = bench_web_pg.database_url()
        found = bench_web_pg.reuse(app_config(db_path), args.evaluations) if args.reuse else None
        info = found or bench_web_pg.build(app_config(db_path), args.evaluations, PASSWORD)
        db_url = str(db_path)
        raw_baseline = bench_web_pg.BASELINE_RAW
    else:
        db_path = OUT / "bench.sqlite3"
        info = build(db_path, args.evaluations)
        db_url = f"sqlite:///{db_path}"
        raw_baseline = BASELINE
    print(f"built {info['evaluations']} evaluations in {time.time() - t0:.1f} s", flush=True)
    if "targets_storage" in info:
        print("targets storage:", json.dumps(info["targets_storage"], ensure_ascii=False))
    reviewer = session_cookie(db_path, "reviewer")
    unit = session_cookie(db_path, "unit_a")
    (OUT / "baseline_app.py").write_text(raw_baseline, encoding="utf-8")
    (OUT / "baseline_orm_app.py").write_text(BASELINE_ORM, encoding="utf-8")
    (OUT / "templates").mkdir(exist_ok=True)
    (OUT / "templates" / "rows.html").write_text(ROWS_TEMPLATE, encoding="utf-8")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": SECRET,
        "JIXIAO_VAR": str(OUT / "var"),
        "OUTBOX_DISPATCH": "0",
        "BENCH_DB": str(db_path),
        "BENCH_DB_URL": db_url,
        "BENCH_PG_DSN": db_url.replace("postgresql+psycopg://", "postgresql://", 1),
        "PYTHONPATH": str(ROOT),
        # wrk sends the same cookie for the whole run and never keeps a refreshed one: the
        # idle timeout would end it after 30 minutes of measuring.
        "SESSION_IDLE_MINUTES": "720",
    }
    ports = {name: free_port() for name in ("app", "cold", "orm", "raw")}
    procs = [
        start_gunicorn("wsgi:app", ports["app"], env, ROOT),
        start_gunicorn(
            "wsgi:app", ports["cold"], {**env, "LIST_ROW_CACHE": "0", "LIST_PAGE_CACHE": "0"}, ROOT
        ),
        start_gunicorn("baseline_orm_app:app", ports["orm"], env, OUT),
        start_gunicorn("baseline_app:app", ports["raw"], env, OUT),
    ]
    results: dict[str, dict[str, float]] = {}
    rounds: list[dict[str, dict[str, float]]] = []
    try:
        urls = {
            "baseline_orm": (f"http://127.0.0.1:{ports['orm']}/", None),
            "queue": (f"http://127.0.0.1:{ports['app']}/review/", reviewer),
            "baseline_raw": (f"http://127.0.0.1:{ports['raw']}/", None),
            "queue_cold_rows": (f"http://127.0.0.1:{ports['cold']}/review/", reviewer),
            "form": (f"http://127.0.0.1:{ports['app']}/evaluations/{info['form_id']}/edit", unit),
        }
        for name, (url, cookie) in urls.items():
            # wrk counts redirects as successes: make sure each URL really answers 200 with
            # its page (a stale cookie would measure the redirect to /login instead), and
            # that the session cookie is not re-issued on every request.
            headers = {"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})}
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.build_opener(NoRedirect()).open(request, timeout=30) as resp:
                body = resp.read()
                assert resp.status == 200, (name, resp.status)
                assert resp.headers.get("Set-Cookie") is None, (name, "session re-issued")
            print(f"{name}: 200, {len(body):,} bytes", flush=True)
        for url, cookie in urls.values():
            # One warm-up pass so that both workers have loaded their caches.
            warm = ["wrk", "-H", f"User-Agent: {USER_AGENT}", "-t", "1", "-c", "2", "-d", "2s", url]
            subprocess.run(
                warm + (["-H", f"Cookie: {cookie}"] if cookie else []),
                capture_output=True,
                check=True,
            )  # noqa: S603
        # The queue runs right after or right before its ORM baseline, first one then the
        # other, every round the whole order reversed: a slow spell of this shared machine
        # falls on both sides of the ratio as often as on one.
        order = list(urls)
        for i in range(args.rounds):
            this: dict[str, dict[str, float]] = {}
            for name in order if i % 2 == 0 else order[::-1]:
                url, cookie = urls[name]
                this[name] = wrk(url, args.duration, args.connections, cookie)
                print(f"round {i + 1}", name, this[name], flush=True)
            rounds.append(this)
        # The machine is shared: the URLs take turns, round after round, and each figure
        # is the median over the rounds; the worst round is kept beside it.
        results = {
            name: {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
            for name in urls
        }
    finally:
        for proc in procs:
            stop(proc)

    def ratio(name: str, base: str) -> float:
        """The median over the rounds of name / base, each round against its own baseline."""
        return round(statistics.median(r[name]["rps"] / r[base]["rps"] for r in rounds), 3)

    def worst(name: str, base: str) -> float:
        return round(min(r[name]["rps"] / r[base]["rps"] for r in rounds), 3)

    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "database": "postgresql" if args.postgresql else "sqlite",
        "load_average_at_end": os.getloadavg(),
        "targets_storage": info.get("targets_storage"),
        "evaluations": info["evaluations"],
        "indicators": info["indicators"],
        "connections": args.connections,
        "duration_s": args.duration,
        "results": results,
        "all_rounds": rounds,
        "queue_vs_baseline_orm": ratio("queue", "baseline_orm"),
        "queue_vs_baseline_raw": ratio("queue", "baseline_raw"),
        "queue_cold_rows_vs_baseline_orm": ratio("queue_cold_rows", "baseline_orm"),
        "form_vs_baseline_orm": ratio("form", "baseline_orm"),
        "worst_round": {
            "queue_vs_baseline_orm": worst("queue", "baseline_orm"),
            "queue_vs_baseline_raw": worst("queue", "baseline_raw"),
            "queue_cold_rows_vs_baseline_orm": worst("queue_cold_rows", "baseline_orm"),
            "queue_p99_ms": max(r["queue"]["p99_ms"] for r in rounds),
            "form_p99_ms": max(r["form"]["p99_ms"] for r in rounds),
        },
        "targets_met": {
            "queue_at_least_half_baseline_orm": ratio("queue", "baseline_orm") >= 0.5,
            "queue_at_least_half_baseline_raw": ratio("queue", "baseline_raw") >= 0.5,
            "queue_p99_below_100ms": results["queue"]["p99_ms"] < 100,
            "queue_cold_rows_p99_below_100ms": results["queue_cold_rows"]["p99_ms"] < 100,
            "form_p99_below_100ms": results["form"]["p99_ms"] < 100,
        },
    }
    (OUT / "results.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
