"""Benchmark of the 自评表 workbook: files written and filled files read back per second.

Run: ``.venv/bin/python bench/bench_xlsx.py [--files 1000] [--scheme jiangsu-2022]``.

One process, one core, no database: the writer and the reader are the app's own
(`workflow.workbooks.render.write_workbook`, and for an upload `forms.check_file`,
`forms.read_values` and `forms.parse_upload`, which runs the web form's parser), on the
shipped scheme with a realistic draft per form. The filled files are made as a user makes
them in Excel: openpyxl opens each written file, types into the unlocked cells and saves
(that step is set-up and timed apart). Records go to ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openpyxl  # noqa: E402

from scoring import builtin_scheme  # noqa: E402
from scoring.model import TIERS, Scheme  # noqa: E402
from workflow.workbooks import forms, render  # noqa: E402
from workflow.workbooks.layout import slots  # noqa: E402

KEY = "bench-secret-key-0123456789abcdef0123456789"
NARRATIVE = ("main_results", "problems", "measures", "filled_by", "phone", "unit_head")


def _entries(scheme: Scheme, rnd: random.Random) -> dict[str, Any]:
    """A half-filled draft: what a unit has typed on the web before downloading."""
    entries: dict[str, Any] = {}
    for ind in scheme.indicators:
        if rnd.random() < 0.5:
            continue
        entry: dict[str, Any] = {}
        for slot in slots(ind):
            if slot.kind == "tier":
                if slot.key.startswith("p"):
                    entry.setdefault("points", []).append(rnd.choice(list(TIERS)))
                else:
                    entry["tier"] = rnd.choice(list(TIERS))
            elif slot.kind == "number":
                entry[slot.key] = str(rnd.randint(50, 1000))
            else:
                entry[slot.key] = "达成预期目标"
        entries[ind.code] = entry
    return entries


def _data(scheme: Scheme, index: int, rnd: random.Random) -> render.SheetData:
    return render.SheetData(
        evaluation_id=index + 1,
        version=rnd.randint(1, 9),
        scheme_digest="0" * 64,
        scheme=scheme,
        year="2022年度",
        unit=f"江苏省某某单位{index % 37}",
        department="江苏省政务服务管理办公室",
        project=f"政务服务信息系统建设维护项目{index}",
        summary="项目用于保障全省政务服务平台稳定运行。" * 3,
        amount_unit="万元",
        amounts=[
            ("年初预算数", Decimal("1200")),
            ("全年预算数", Decimal("1250.5")),
            ("实际到位", Decimal("1250.5")),
            ("全年执行数", Decimal("1180.25")),
        ],
        entries=_entries(scheme, rnd),
        narrative={
            name: "按计划完成。" if name != "phone" else "025-00000000" for name in NARRATIVE
        },
    )


def _is_point(name: str) -> bool:
    last = name.rsplit("-", 1)[-1]
    return last[:1] == "p" and last[1:].isdigit()


def _fill(data: bytes, rnd: random.Random) -> bytes:
    """Type into every unlocked cell, as a unit does in Excel, and save."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cells = json.loads(wb["_jixiao"]["B1"].value)["cells"]
    ws = wb["自评表"]
    for name, ref in cells.items():
        if name.endswith("-na"):
            continue
        if name.endswith(("-numerator", "-denominator")):
            ws[ref] = rnd.randint(100, 1000)
        elif name.endswith("-score"):
            ws[ref] = None
        elif name.endswith("-tier") or _is_point(name):
            ws[ref] = rnd.choice(list(TIERS))
        elif name.endswith("-actual"):
            ws[ref] = "达成预期目标"
        elif name.endswith("-reason"):
            ws[ref] = "受疫情影响部分工作延期" if rnd.random() < 0.3 else None
        else:
            ws[ref] = "已按要求填写。"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--scheme", default="jiangsu-2022")
    # Filling in openpyxl (the user's Excel here) is the slow part, ~1 s a file: this many
    # distinct filled files are made, and the 1,000 read back cycle through them.
    parser.add_argument("--filled", type=int, default=50)
    args = parser.parse_args()
    scheme = builtin_scheme(args.scheme)
    rnd = random.Random(20221231)
    datas = [_data(scheme, i, rnd) for i in range(args.files)]

    render.write_workbook(datas[0], KEY)  # warm imports
    started = time.perf_counter()
    written = [render.write_workbook(d, KEY) for d in datas]
    write_s = time.perf_counter() - started

    started = time.perf_counter()
    distinct = [_fill(w, rnd) for w in written[: args.filled]]
    fill_s = (time.perf_counter() - started) / len(distinct)
    filled = [distinct[i % len(distinct)] for i in range(args.files)]

    per_read: list[float] = []
    errors = 0
    started = time.perf_counter()
    for i, data in enumerate(filled):
        t0 = time.perf_counter()
        forms.check_file(f"{i}.xlsx", data, 5 * 1024 * 1024)
        sheet = forms.read_values(data, KEY)
        form, messages = forms.parse_upload(sheet, scheme, datas[i % len(distinct)].entries)
        errors += len(messages)
        per_read.append(time.perf_counter() - t0)
    read_s = time.perf_counter() - started

    n = args.files
    print(
        f"python {platform.python_version()}, openpyxl {openpyxl.__version__}, "
        f"scheme {args.scheme} ({len(scheme.indicators)} indicators)"
    )
    print(
        f"write: {n} files in {write_s:.1f} s = {n / write_s:.1f} files/s "
        f"({statistics.mean(len(w) for w in written) / 1024:.1f} KB each)"
    )
    print(
        f"fill (openpyxl as the user's Excel, set-up, {len(distinct)} distinct files): "
        f"{1 / fill_s:.2f} files/s"
    )
    print(
        f"read back and parse: {n} files in {read_s:.1f} s = {n / read_s:.1f} files/s "
        f"(median {statistics.median(per_read) * 1000:.1f} ms, "
        f"p99 {sorted(per_read)[int(n * 0.99) - 1] * 1000:.1f} ms); cell errors: {errors}"
    )


if __name__ == "__main__":
    main()
