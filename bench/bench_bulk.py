"""Benchmark of the bulk import (issue 12 §4): 1,000 generated .xlsx forms in a ZIP,
imported, scored and stored through `flask import-forms` by one Celery worker.

Run: ``.venv/bin/python bench/bench_bulk.py [N] [--in-process]``.  Builds a fresh SQLite
database with the demo world (the same as `make run`) under a temporary JIXIAO_VAR, adds a
cycle on the central framework and the units the forms name, writes N (default 1,000)
.xlsx forms of the central family with varied numbers (one in twenty names a unit the
system does not know), zips them, starts one worker on the ``bulk`` queue (solo pool, the
embedded broker) and times `flask import-forms forms.zip --cycle … --enqueue` from the
command's start until the import is done: forms per minute, and the worker's peak memory
(VmHWM of the solo worker, the process that does the work) and CPU time (forms per
CPU-minute: what one free core would do, the machine being shared).  ``--in-process`` times the
same command without --enqueue instead (the CLI's own progress-bar path; peak memory of
that process).  The machine's load average is printed before and after.
"""

from __future__ import annotations

import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent


def _env(var: Path) -> dict[str, str]:
    return {
        **os.environ,
        "JIXIAO_VAR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}",
        "SECRET_KEY": "bench-bulk-secret-key-0123456789abcdef",
        "OUTBOX_DISPATCH": "1",
        "MAIL_SUPPRESS_SEND": "1",
        "PYTHONPATH": str(ROOT),
    }


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip


_SETUP = """
from wsgi import app
from tests.workflow.bulk.bulk_helpers import central_cycle
from workflow.core.extensions import db
with app.app_context():
    print(central_cycle())
"""


def _forms(folder: Path, n: int) -> Path:
    from tests.scoring.importers.importer_files import rows_of, write_xlsx
    from tests.workflow.bulk.bulk_helpers import KNOWN_UNITS, UNKNOWN_UNIT, generated_form

    rng = random.Random(12)
    archive = folder / "forms.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for i in range(n):
            unit = UNKNOWN_UNIT if i % 20 == 19 else KNOWN_UNITS[i % 2]
            path = folder / f"{i:04d}.xlsx"
            text = generated_form(unit, f"项目{i:04d}", rng.randint(60, 130))
            write_xlsx(rows_of(text), path)
            bundle.write(path, f"自评表/{path.name}")
            path.unlink()
    return archive


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (utime, stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bulk_done(db: Path) -> tuple[str, int, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute(
            "SELECT status, processed, total FROM bulk_imports ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return row if row else ("", 0, 0)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    in_process = "--in-process" in sys.argv
    n = int(args[0]) if args else 1_000
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        var = Path(tmp) / "var"
        var.mkdir()
        env = _env(var)
        _flask(env, "init-db")
        _flask(env, "demo", "--password", "bench-pass-2024")
        cycle = subprocess.run(
            [sys.executable, "-c", _SETUP], cwd=ROOT, env=env, capture_output=True,
            text=True, check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        started = time.perf_counter()
        archive = _forms(Path(tmp), n)
        print(f"{n} .xlsx forms written and zipped in {time.perf_counter() - started:.1f} s "
              f"({archive.stat().st_size // 1024} KiB)")  # fmt: skip
        if in_process:
            started = time.perf_counter()
            _flask(env, "import-forms", str(archive), "--cycle", cycle)
            elapsed = time.perf_counter() - started
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
            mode = "in-process (flask import-forms, no worker)"
        else:
            log = open(Path(tmp) / "worker.log", "wb")  # noqa: SIM115
            worker = subprocess.Popen(
                [str(BIN / "celery"), "-A", "wsgi.celery", "worker", "--pool", "solo",
                 "-Q", "bulk", "-n", "bench-bulk@%h", "--loglevel", "WARNING",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                time.sleep(6)  # the worker's start, not part of the import
                assert worker.poll() is None, (Path(tmp) / "worker.log").read_text()[-2000:]
                started = time.perf_counter()
                cpu_before = _cpu_seconds(worker.pid)
                _flask(env, "import-forms", str(archive), "--cycle", cycle, "--enqueue")
                while _bulk_done(var / "bench.sqlite3")[0] != "done":
                    time.sleep(0.2)
                elapsed = time.perf_counter() - started
                peak = _peak_kib(worker.pid)
                cpu = _cpu_seconds(worker.pid) - cpu_before
            finally:
                worker.terminate()
                worker.wait(30)
            mode = "one Celery worker (solo) on the bulk queue, embedded broker"
        with sqlite3.connect(var / "bench.sqlite3") as conn:
            stored = conn.execute("SELECT count(*) FROM evaluations WHERE cycle_id = ?", (cycle,))
            evaluations = stored.fetchone()[0]
        print(f"mode: {mode}")
        print(f"{n} forms in {elapsed:.1f} s = {n / elapsed * 60:,.0f} forms/min "
              f"({n / elapsed:.1f} forms/s); {evaluations} stored as evaluations")  # fmt: skip
        print(f"peak memory: {peak / 1024:.0f} MiB")
        # On a shared machine the wall clock measures the load as much as the import: the
        # worker's own CPU time says what one free core would do.
        print(f"worker CPU time: {cpu:.1f} s = {n / cpu * 60:,.0f} forms per CPU-minute")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
