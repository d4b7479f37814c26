"""Benchmark of the form reader: one form of each file type, and 1,000 .xlsx forms.

Run: ``.venv/bin/python bench/bench_import.py [N]``.  Writes the 普陀 form A (from
``../shared/forms``, or a built-in copy of the same shape when that folder is absent) as .txt,
.xlsx, .xls, .ods, .docx and PDF, and reads each N times (default 30): median and best time
per read.  Then generates 1,000 .xlsx forms with varied numbers and reads and scores them in
one process (one core): forms per second, and peak memory (ru_maxrss).  The bulk command's
forms per minute (Celery, one worker) is measured when that command exists.
"""

from __future__ import annotations

import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "scoring" / "importers"))

from importer_files import (  # noqa: E402
    FORMS,
    SIMPLE_FORM,
    rows_of,
    tsv,
    write_docx,
    write_ods,
    write_pdf,
    write_xls,
    write_xlsx,
)

from scoring import import_forms  # noqa: E402
from scoring.importers.compare import check_form  # noqa: E402

BULK = 1_000


def _form() -> list[list[str]]:
    putuo = FORMS / "putuo_tiyu_2022_two_forms.txt"
    if putuo.exists():
        return rows_of(putuo.read_text(encoding="utf-8"))[:18]
    return rows_of(SIMPLE_FORM)


def _time(path: Path, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        import_forms(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def _varied(rows: list[list[str]], rng: random.Random) -> list[list[str]]:
    """The form with other actual values and scores, so no two files are the same."""
    out = [list(r) for r in rows]
    for row in out:
        if len(row) > 7 and row[5].endswith("%") and row[5][:-1].isdigit():
            row[5] = f"{rng.randint(80, 100)}%"
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    rows = _form()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        txt = folder / "form.txt"
        txt.write_text(tsv(rows), encoding="utf-8")
        files = {
            "txt": txt,
            "xlsx": write_xlsx(rows, folder / "form.xlsx"),
            "xls": write_xls(rows, folder / "form.xls"),
            "ods": write_ods(rows, folder / "form.ods"),
            "docx": write_docx(rows, folder / "form.docx"),
            "pdf": write_pdf(rows, folder / "form.pdf"),
        }
        print(f"read one form, median / best of {n} (ms):")
        for kind, path in files.items():
            import_forms(path)  # warm: imports of the readers, caches
            median, best = _time(path, n)
            print(
                f"  {kind:5s} {median * 1000:8.2f} / {best * 1000:8.2f}   ({path.stat().st_size} bytes)"
            )
        rng = random.Random(12)
        bulk = []
        for index in range(BULK):
            bulk.append(write_xlsx(_varied(rows, rng), folder / f"bulk_{index:04d}.xlsx"))
        start = time.perf_counter()
        graded = 0
        for path in bulk:
            for result in import_forms(path):
                graded += check_form(result).grade is not None
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{BULK} .xlsx forms read + scored + compared on one core: {elapsed:.2f} s = "
            f"{BULK / elapsed:.1f} forms/s = {BULK * 60 / elapsed:,.0f} forms/min "
            f"({graded} graded); peak RSS {peak:.0f} MiB"
        )


if __name__ == "__main__":
    main()
