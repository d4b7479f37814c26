"""Benchmark of the scoring engine: forms per second and scheme load time.

Run: ``.venv/bin/python bench/bench_scoring.py``.  Scores 10,000 forms of 40 indicators in
one process (one core) and prints the figures recorded in ``bench/scoring.md``.
The forms mix every rule kind with realistic inputs (numbers with units and thousands
separators, percentages, tier labels, checklist points, amounts), drawn at random per form.
The target is 5,000 forms per second per core (issue 10).
"""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scoring import Scheme, builtin_scheme, load_scheme, scheme_from_dict, score  # noqa: E402
from scoring.numbers import parse_quantity  # noqa: E402

FORMS = 10_000
INDICATORS = 40


def _scheme_40() -> Scheme:
    """The central layout widened to 40 leaves of every kind, weights adding to 100."""
    kinds: list[tuple[str, str, dict[str, Any]]] = [
        ("forward", "≥1,000人次", {}),
        ("forward", "≥95%", {}),
        ("equal", "=100%", {}),
        ("equal", "=0次", {}),
        ("reverse", "≤90万元", {"reverse_formula": "ratio"}),
        ("reverse", "≤10天", {"reverse_formula": "linear"}),
        ("satisfaction", "≥90%", {}),
        ("tier", "明显", {}),
        ("checklist", "规范", {"points": ["要点一", "要点二", "要点三"], "shares": ["1/3"] * 3}),
        ("ratio", "100%", {"numerator_label": "实际支出", "denominator_label": "实际到位"}),
    ]
    leaves = []
    for index in range(INDICATORS - 1):
        kind, target, extra = kinds[index % len(kinds)]
        leaves.append(
            {
                "code": f"k{index:02d}",
                "name": f"指标{index + 1}",
                "weight": "2.5" if index % 2 else "2",
                "target": target,
                "rule": {"kind": kind, **extra},
            }
        )
    used = sum(Decimal(leaf["weight"]) for leaf in leaves)
    budget = {
        "code": "budget",
        "name": "年度资金总额",
        "weight": str(100 - used),
        "target": "100%",
        "rule": {"kind": "budget", "reason_below": "0.90"},
    }
    tree = [
        {"name": "预算执行", "children": [{"name": "预算执行率", "indicators": [budget]}]},
        {"name": "产出指标", "children": [{"name": "综合", "indicators": leaves}]},
    ]
    return scheme_from_dict(
        {
            "name": "bench-40",
            "version": "1",
            "title": "基准",
            "total": "100",
            "na_policy": "rescale",
            "tree": tree,
        }
    )


def _entries(scheme: Scheme, rng: random.Random) -> dict[str, dict[str, Any]]:
    tiers = ["达成预期目标", "部分达成并具有一定效果", "未达成"]
    entries: dict[str, dict[str, Any]] = {}
    for ind in scheme.indicators:
        kind = ind.rule.kind
        entry: dict[str, Any]
        if kind in ("forward", "equal", "reverse", "satisfaction"):
            value = float(ind.target.value or 1) * rng.uniform(0.5, 1.4)
            if ind.target.unit == "人次":
                entry = {"actual": f"{value:,.0f}人次"}
            else:
                entry = {
                    "actual": f"{min(value, 100) if kind == 'satisfaction' else value:.2f}{ind.target.unit}"
                }
        elif kind == "tier":
            entry = {"actual": rng.choice(tiers)}
        elif kind == "checklist":
            entry = {
                "points": [rng.choice(["达成", "部分达成", "未达成"]) for _ in ind.rule.points]
            }
        else:
            denominator = rng.uniform(10, 5000)
            entry = {
                "numerator": f"{denominator * rng.uniform(0.6, 1.05):,.2f}",
                "denominator": f"{denominator:,.2f}",
            }
        if rng.random() < 0.5:
            entry["reason"] = "已说明"
        entries[ind.code] = entry
    return entries


def _time_passes(scheme: Scheme, forms: list[dict[str, dict[str, Any]]]) -> tuple[float, float]:
    """Best of 3 passes over the forms: (CPU seconds, wall seconds)."""
    score(scheme, forms[0])  # build the per-scheme plan once, as a long-running worker would
    # CPU time of this process as well as wall time: on a shared machine the wall clock also
    # counts other processes' turns, while "one core" is about this process's own work.
    best_cpu = best_wall = float("inf")
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        for entries in forms:
            score(scheme, entries)
        best_wall = min(best_wall, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best_cpu, best_wall


def main() -> None:
    scheme = _scheme_40()
    assert len(scheme.indicators) == INDICATORS
    rng = random.Random(20240501)
    forms = [_entries(scheme, rng) for _ in range(FORMS)]

    best_cpu, best_wall = _time_passes(scheme, forms)
    elapsed = best_wall
    rate = FORMS / best_cpu
    quantity_cache = parse_quantity.cache_info()

    data = json.loads(
        resources.files("scoring").joinpath("schemes", "jiangsu-2022.json").read_text("utf-8")
    )
    loads = 200
    start = time.perf_counter()
    for _ in range(loads):
        scheme_from_dict(data)
    dict_ms = (time.perf_counter() - start) / loads * 1000
    path = Path(__file__).resolve().parent.parent / "scoring" / "schemes" / "central.json"
    start = time.perf_counter()
    for _ in range(loads):
        load_scheme(path)
    file_ms = (time.perf_counter() - start) / loads * 1000
    builtin_scheme("central")

    print(
        f"python {platform.python_version()} on {platform.machine()} ({platform.processor() or platform.platform()})"
    )
    print(
        f"scored {FORMS} forms x {INDICATORS} indicators (best of 3): "
        f"{best_cpu:.3f} s CPU = {rate:,.0f} forms/s per core; "
        f"{elapsed:.3f} s wall = {FORMS / elapsed:,.0f} forms/s"
    )
    print(
        f"parse_quantity LRU {quantity_cache.hits:,}/"
        f"{quantity_cache.hits + quantity_cache.misses:,} (its misses include scheme loading)"
    )
    print(f"scheme_from_dict(jiangsu-2022, 30 leaves, with validation): {dict_ms:.2f} ms")
    print(f"load_scheme(central.json, 13 leaves, read + validate + build): {file_ms:.2f} ms")


if __name__ == "__main__":
    main()
