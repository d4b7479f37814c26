"""PDF benchmarks (issue 5): the app's render against bare WeasyPrint, layouts, memory, and
forms per second with a real 2-process Celery worker.

    .venv/bin/python bench/bench_pdf.py warm [--n 30]        app vs bare WeasyPrint, same HTML
    .venv/bin/python bench/bench_pdf.py layouts [--n 15]     font / layout variants
    .venv/bin/python bench/bench_pdf.py memory [--n 200]     RSS after N renders
    .venv/bin/python bench/bench_pdf.py worker [--n 1000]    N PDFs, real worker -c 2 on Redis

The first three use a temporary SQLite database holding the seed form; `worker` needs
PostgreSQL on 127.0.0.1:5432 and the redis-server binary (started privately).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "tasks"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_app(tmp: Path, **extra: Any) -> Any:
    from workflow import create_app
    from workflow.core.extensions import db

    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "VAR_DIR": str(tmp / "var"),
        "PDF_DIR": str(tmp / "var" / "pdf"),
        "OUTBOX_DISPATCH": False,
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123",
    }
    config.update(extra)
    app = create_app(config)
    with app.app_context():
        db.create_all()
    return app


def seed_evaluation(app: Any) -> int:
    from task_world import build_world

    with app.app_context():
        return int(build_world().evaluation.id)


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def summary(label: str, times: list[float]) -> str:
    return (
        f"{label:<44} median {statistics.median(times):.3f} s  "
        f"min {min(times):.3f}  max {max(times):.3f}  (n={len(times)})"
    )


def cmd_warm(n: int) -> None:
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from workflow.core.extensions import db
    from workflow.documents.render import render_html, render_pdf
    from workflow.models import Evaluation

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        evaluation_id = seed_evaluation(app)
        with app.app_context():
            evaluation = db.session.get(Evaluation, evaluation_id)
            html = render_html(evaluation)
            pages = render_pdf(evaluation)[1]
            for _ in range(3):  # warm both paths
                render_pdf(evaluation)
                HTML(string=html).write_pdf()
            fonts = FontConfiguration()
            app_times: list[float] = []
            bare_times: list[float] = []
            shared_times: list[float] = []
            for _ in range(n):  # interleaved, so that machine noise hits all alike
                app_times += timed(lambda: render_pdf(db.session.get(Evaluation, evaluation_id)), 1)
                bare_times += timed(lambda: HTML(string=html).write_pdf(), 1)
                shared_times += timed(lambda: HTML(string=html).write_pdf(font_config=fonts), 1)
    app_med = statistics.median(app_times)
    print(f"seed form: {pages} pages, {len(html)} characters of HTML")
    print(summary("app render_pdf (query + template + PDF)", app_times))
    print(summary("bare WeasyPrint HTML(string).write_pdf()", bare_times))
    print(summary("bare WeasyPrint, one shared FontConfiguration", shared_times))
    for label, times in (("bare", bare_times), ("bare + shared fonts", shared_times)):
        overhead = 100 * (app_med / statistics.median(times) - 1)
        print(f"app overhead vs {label}: {overhead:+.1f} % (limit +15 %)")


LAYOUTS: dict[str, Callable[[str], str]] = {
    "as shipped (Noto Sans CJK SC, one face)": lambda h: h,
    "bold title (adds Noto Sans CJK SC Bold)": lambda h: h.replace(
        "h1 { font-size: 17pt; font-weight: normal;", "h1 { font-size: 17pt; font-weight: bold;"
    ),
    "Noto Serif CJK SC": lambda h: re.sub(
        r'font-family: "[^"]+"', 'font-family: "Noto Serif CJK SC"', h, count=1
    ),
    "WenQuanYi Micro Hei": lambda h: re.sub(
        r'font-family: "[^"]+"', 'font-family: "WenQuanYi Micro Hei"', h, count=1
    ),
    "generic sans-serif (fontconfig fallback)": lambda h: re.sub(
        r'font-family: "[^"]+"', "font-family: sans-serif", h, count=1
    ),
    "no running headers / watermark": lambda h: re.sub(
        r'<div class="watermark">.*?</div>', "", h.replace("string(runhead)", '""')
    ),
}


def cmd_layouts(n: int) -> None:
    from weasyprint import HTML

    from workflow.core.extensions import db
    from workflow.documents.render import render_html
    from workflow.models import Evaluation

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        evaluation_id = seed_evaluation(app)
        with app.app_context():
            html = render_html(db.session.get(Evaluation, evaluation_id))
        for label, change in LAYOUTS.items():
            variant = change(html)
            document = HTML(string=variant).render()
            pages = len(document.pages)
            size = len(document.write_pdf())
            for _ in range(2):
                HTML(string=variant).write_pdf()
            times = timed(lambda v=variant: HTML(string=v).write_pdf(), n)
            print(summary(label, times) + f"  {pages} pages {size // 1024} KB")


def cmd_memory(n: int) -> None:
    from workflow.core.extensions import db
    from workflow.documents.render import render_pdf
    from workflow.models import Evaluation

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        evaluation_id = seed_evaluation(app)
        start = rss_mib()
        peak = start
        with app.app_context():
            for i in range(n):
                render_pdf(db.session.get(Evaluation, evaluation_id))
                db.session.remove()
                if i % 20 == 19:
                    gc.collect()
                    peak = max(peak, rss_mib())
                    print(f"  after {i + 1:>4} renders: RSS {rss_mib():.0f} MiB")
        print(
            f"RSS before {start:.0f} MiB, after {n} renders {rss_mib():.0f} MiB, peak {peak:.0f} MiB (limit 300)"
        )


def cmd_worker(n: int, concurrency: int) -> None:
    import uuid

    from task_live_helpers import ROOT as PROJECT
    from task_live_helpers import VENV_BIN, RedisServer, _pg_exec, live_env, wait_for

    from workflow.core.extensions import db
    from workflow.documents.tasks import render_evaluation_pdf
    from workflow.models import PdfFile

    name = f"jixiao_bench_{uuid.uuid4().hex[:8]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    pg_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        (tmp / "redis").mkdir()
        redis = RedisServer(tmp / "redis")
        redis.start()
        env = live_env(tmp, pg_url, redis.url, 1)
        env["CELERY_MAX_TASKS_PER_CHILD"] = "100"
        worker = None
        try:
            app = make_app(
                tmp,
                SQLALCHEMY_DATABASE_URI=pg_url,
                PDF_DIR=env["PDF_DIR"],
                CELERY={"broker_url": redis.url, "result_backend": redis.url},
            )
            evaluation_id = seed_evaluation(app)
            log = open(tmp / "worker.log", "wb")  # noqa: SIM115
            worker = subprocess.Popen(
                [str(VENV_BIN / "celery"), "-A", "wsgi.celery", "worker", "--pool", "prefork",
                 "-c", str(concurrency), "-Q", "pdf", "--loglevel", "WARNING",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            time.sleep(4)
            with app.app_context():
                started = time.perf_counter()
                for version in range(1, n + 1):
                    render_evaluation_pdf.apply_async(args=[evaluation_id, version], queue="pdf")

                def done() -> bool:
                    db.session.remove()
                    return db.session.query(PdfFile).count() >= n

                wait_for(done, timeout=n * 2 + 60, interval=0.5)
                elapsed = time.perf_counter() - started
                rows = db.session.query(PdfFile).all()
                render = [r.render_seconds or 0 for r in rows]
            print(
                f"{n} PDFs with a {concurrency}-process worker: {elapsed:.1f} s, "
                f"{n / elapsed:.2f} forms/s; render per form in the worker: median "
                f"{statistics.median(render):.3f} s, max {max(render):.3f} s"
            )
        finally:
            if worker is not None:
                os.killpg(worker.pid, 15)
                worker.wait(30)
            redis.stop()
            db_engine_dispose()
            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_engine_dispose() -> None:
    from workflow.core.extensions import db

    with contextlib.suppress(RuntimeError):
        db.session.remove()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["warm", "layouts", "memory", "worker"])
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    if args.what == "warm":
        cmd_warm(args.n or 30)
    elif args.what == "layouts":
        cmd_layouts(args.n or 15)
    elif args.what == "memory":
        cmd_memory(args.n or 200)
    else:
        cmd_worker(args.n or 1000, args.concurrency)


if __name__ == "__main__":
    main()
