"""The scorecards of every form the tests use, as inputs and SHA-256 hashes (issue 10).

The engine was rewritten (one function per rule kind instead of a general function and a
fast copy); these hashes, recorded on the old engine, prove the new one gives the same
scores, explanations, inputs, flags, totals and grades for every form the tests score.

- ``static_cases()``: the shipped samples, the built-in schemes, the shared seeds and forms
  through the importer.
- ``data/scorecard_cases.json``: every (scheme, entries) that tests/scoring and
  tests/workflow passed to ``score()``, recorded by ``record_scorecards.py``.
- ``data/scorecard_hashes.json``: the hash of each case's canonical scorecard.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from scoring import (
    FormReadError,
    Group,
    Indicator,
    Rule,
    Scheme,
    Target,
    builtin_scheme,
    import_form,
    score,
    stage_total,
)
from scoring.schemes import BUILTIN_SCHEMES

DATA = Path(__file__).resolve().parent / "data"
CASES_FILE = DATA / "scorecard_cases.json"
HASHES_FILE = DATA / "scorecard_hashes.json"
# The shared folders sit beside the checkout on the development machine; the cases read from
# them are stored in CASES_FILE as well, so the test does not need them.
SHARED = Path(__file__).resolve().parents[3] / "shared"


def encode(value: Any) -> Any:
    """JSON with the types entries hold kept apart (Decimal, tuple are not JSON)."""
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("non-string key")
        return {k: encode(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(type(value).__name__)


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$decimal"}:
            return Decimal(value["$decimal"])
        if set(value) == {"$tuple"}:
            return tuple(decode(v) for v in value["$tuple"])
        return {k: decode(v) for k, v in value.items()}
    return value


def outcome(scheme: Scheme, entries: Any) -> dict[str, Any]:
    """What a scorecard says, in full: every row (score, explanation, inputs, flags), totals,
    grade, form flags, and the stage total of its own score column."""
    try:
        card = score(scheme, entries)
    except ArithmeticError as exc:  # e.g. a 40-digit amount: the failure is part of behaviour
        return {"error": type(exc).__name__}
    column = {row.code: row.score for row in card.rows}
    return {
        "card": card.to_dict(),
        "repr_inputs": [repr(row.inputs) for row in card.rows],
        "tiers": [row.tier for row in card.rows],
        "stage_total": str(stage_total(scheme, column)),
    }


def digest(scheme: Scheme, entries: Any) -> str:
    text = json.dumps(
        outcome(scheme, entries), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
        default=repr,
    )  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sample(name: str) -> Path:
    return Path(str(resources.files("scoring").joinpath("samples", name)))


def static_cases() -> Iterator[tuple[str, Scheme, dict[str, Any]]]:
    """(name, scheme, entries) for the shipped and shared forms and the built-in schemes."""
    for name in ("central_sample.tsv", "jiangsu_2022_seed.tsv"):
        result = import_form(_sample(name))
        yield f"sample:{name}", result.scheme, result.entries
    for folder in ("seeds", "forms"):
        for path in sorted((SHARED / folder).glob("*.txt")):
            try:
                result = import_form(path)
            except FormReadError:  # a form the current importer cannot read scores nothing
                continue
            yield f"{folder}:{path.name}", result.scheme, result.entries
    for scheme_name in sorted(BUILTIN_SCHEMES):
        scheme = builtin_scheme(scheme_name)
        yield f"builtin:{scheme_name}:empty", scheme, {}
        for actual in ("95%", "100%", "达成", "部分达成", "/", "abc"):
            entries = {
                ind.code: {"actual": actual, "numerator": "43.09", "denominator": "50",
                           "points": [actual] * len(ind.rule.points)}
                for ind in scheme.indicators
            }  # fmt: skip
            yield f"builtin:{scheme_name}:{actual}", scheme, entries


def scheme_data(scheme: Scheme) -> dict[str, Any]:
    """Every field of a scheme, as JSON: unlike Scheme.to_dict it keeps schemes that fail
    validation (the tests score some on purpose) and leaves that no group holds."""

    def number(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "name": scheme.name,
        "version": scheme.version,
        "title": scheme.title,
        "total": str(scheme.total),
        "na_policy": scheme.na_policy,
        "over_threshold": str(scheme.over_threshold),
        "over_zero_target": str(scheme.over_zero_target),
        "tier_default": scheme.tier_default,
        "layout": scheme.layout,
        "description": scheme.description,
        "groups": [[list(g.path), number(g.weight)] for g in scheme.groups],
        "indicators": [
            {
                "code": ind.code,
                "path": list(ind.path),
                "weight": str(ind.weight),
                "target": [ind.target.op, number(ind.target.value), ind.target.unit,
                           ind.target.text],
                "rule": {**ind.rule.to_dict(), "shares": [str(s) for s in ind.rule.shares]},
                "rule_text": ind.rule_text,
            }
            for ind in scheme.indicators
        ],
    }  # fmt: skip


def scheme_build(data: dict[str, Any]) -> Scheme:
    def number(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    indicators = []
    for leaf in data["indicators"]:
        rule = dict(leaf["rule"])
        rule["shares"] = [Decimal(s) for s in rule["shares"]]
        rule["reason_below"] = number(rule["reason_below"])
        op, value, unit, text = leaf["target"]
        indicators.append(
            Indicator(
                code=leaf["code"],
                path=tuple(leaf["path"]),
                weight=Decimal(leaf["weight"]),
                target=Target(op, number(value), unit, text),
                rule=Rule(**rule),
                rule_text=leaf["rule_text"],
            )
        )
    return Scheme(
        name=data["name"],
        version=data["version"],
        title=data["title"],
        total=Decimal(data["total"]),
        na_policy=data["na_policy"],
        indicators=indicators,
        over_threshold=Decimal(data["over_threshold"]),
        over_zero_target=Decimal(data["over_zero_target"]),
        tier_default=data["tier_default"],
        groups=[Group(tuple(path), number(weight)) for path, weight in data["groups"]],
        layout=data["layout"],
        description=data["description"],
    )


_NUMBERS = [
    "0",
    "0.00",
    "1",
    "7",
    "90",
    "95.5",
    "100",
    "101",
    "1,000",
    "12,34",
    "1.2.3",
    "-3",
    "+5",
    ".5",
    "5.",
    "1e5",
    "１２３",
    "9" * 17,
    "0" * 30,
    " 7 ",
]
_UNITS = [
    "",
    "%",
    "万元",
    "人次",
    "天",
    "(个)",
    "（个）",
    " 个",
    "百分比",
    "％",
    "%以上",
    "元/人",
    ".%",
    "2号",
    "-",
    "≥",
]
_TEXTS = [
    "/",
    "—",
    "-",
    "*",
    "不适用",
    "达成",
    "部分达成",
    "未达成预期",
    "正常",
    "",
    "≥90%",
    "<=5天",
    "=0次",
    "  95%  ",
    "100.00%",
]
_LABELS = [
    "达成",
    "部分达成",
    "未达成",
    "达成预期目标",
    " 部分达成并具有一定效果 ",
    "",
    "  ",
    "正常",
    "95%",
]
_AMOUNTS = ["0", "0.00", "1,234.50", "１２", "-3", "1e3", "", " 12 ", "45", "50", "43.09", "5"]


def _maybe(rng: random.Random, entry: dict[str, Any], key: str, values: list[Any]) -> None:
    if rng.random() < 0.5:
        entry[key] = rng.choice(values)


def grid_cases(count: int = 2400) -> Iterator[tuple[str, Scheme, dict[str, Any]]]:
    """One-leaf schemes of every kind with drawn entries (fixed seed): the shapes the old
    engine's fast-path equivalence tests drew, common cases and awkward ones alike."""
    from scoring_helpers import one_leaf_scheme

    rng = random.Random(20261203)
    for index in range(count):
        kind = ("forward", "reverse", "equal", "satisfaction", "tier", "checklist", "ratio",
                "budget")[index % 8]  # fmt: skip
        entry: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if kind in ("forward", "reverse", "equal", "satisfaction"):
            target = rng.choice(["0", "1", "90", "95.5", "1,000"]) + rng.choice(_UNITS)
            if kind == "reverse":
                extra["reverse_formula"] = rng.choice(["ratio", "linear"])
            entry["actual"] = (
                rng.choice(_NUMBERS) + rng.choice(_UNITS) if rng.random() < 0.7
                else rng.choice(_TEXTS)
            )  # fmt: skip
            _maybe(rng, entry, "tier", ["", " ", "达成", "部分达成", "完全没有", None])
            weight = "2.5"
        elif kind == "tier":
            target = "明显"
            _maybe(rng, entry, "tier", [*_LABELS, 3])
            _maybe(rng, entry, "actual", [*_LABELS, 7])
            weight = "10"
        elif kind == "checklist":
            target = "规范"
            extra["points"] = ["一", "二", "三"]
            extra["shares"] = rng.choice([["1/3"] * 3, ["0.5", "0.3", "0.2"]])
            entry["points"] = rng.choice(
                [[rng.choice(_LABELS) for _ in range(rng.randint(0, 4))], "达成",
                 [rng.choice([1, None, "达成"]) for _ in range(3)],
                 [rng.choice(["达成", "部分达成", "未达成"]) for _ in range(3)]]
            )  # fmt: skip
            _maybe(rng, entry, "tier", ["达成", "部分达成"])
            weight = "7"
        else:
            target = "100%"
            if rng.random() < 0.5:
                extra["reason_below"] = "0.90"
            _maybe(rng, entry, "numerator", [*_AMOUNTS, None, 5])
            _maybe(rng, entry, "denominator", [*_AMOUNTS, None, 5])
            _maybe(rng, entry, "initial", [None, "", "100", "50", 0, "x"])
            _maybe(rng, entry, "actual", [None, "", "95%", "0.8", "达成", "/", "万元"])
            _maybe(rng, entry, "na", [True, False])
            weight = "5"
        _maybe(rng, entry, "score", ["", None, "1", "2", "5", "9.5", "abc", "100", "0"])
        _maybe(rng, entry, "reason", ["", "  ", "已说明", None, 0, 1])
        _maybe(rng, entry, "imported", [True, False])
        scheme = one_leaf_scheme(kind, weight=weight, target=target, **extra)
        if rng.random() < 0.2:
            scheme = dataclasses.replace(scheme, tier_default="manual")
        if rng.random() < 0.2:
            scheme = dataclasses.replace(scheme, na_policy="exclude")
        yield f"grid:{index}", scheme, {"x": entry, "filler": {"tier": rng.choice(_LABELS)}}


def load_cases() -> tuple[dict[str, Scheme], list[dict[str, Any]]]:
    data = json.loads(CASES_FILE.read_text("utf-8"))
    schemes = {key: scheme_build(value) for key, value in data["schemes"].items()}
    return schemes, data["cases"]
