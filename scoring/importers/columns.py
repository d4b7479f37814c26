"""Header meaning -> column role, from the synonym table in ``columns.yaml`` (data, not code)."""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "BUDGET_ROLES",
    "INDICATOR_ROLES",
    "budget_row_kind",
    "header_base",
    "map_header",
    "operator_of",
    "synonyms",
    "total_words",
]

INDICATOR_ROLES = (
    "level1", "level2", "level3", "target", "op", "unit", "actual", "weight", "score",
    "reason", "rule",
)  # fmt: skip
BUDGET_ROLES = ("initial", "full", "executed", "weight", "rate", "score")
_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
_SPACES = re.compile(r"[\s\u3000:：]+")


@functools.cache
def synonyms() -> dict[str, Any]:
    text = resources.files("scoring.importers").joinpath("columns.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def header_base(cell: str) -> str:
    """A header cell without spaces and bracketed parts: "全年预算数（A）" -> "全年预算数"."""
    text = _SPACES.sub("", cell)
    stripped = _BRACKETS.sub("", text)
    return stripped or text


@functools.cache
def _lookup(table: str) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    spec = synonyms()[table]
    exact: dict[str, str] = {}
    for role, words in spec["exact"].items():
        for word in words:
            exact.setdefault(header_base(str(word)), role)
    contains = tuple(
        (header_base(str(word)), role)
        for role, words in spec.get("contains", {}).items()
        for word in words
    )
    return exact, contains


def map_header(cells: list[str], table: str) -> dict[str, int]:
    """Role -> column index for one header row.

    Exact spellings first, then the "contains" words for the roles still open, so that
    "调整后预算数" (exact) wins over a label column headed "年度预算数(万元)" (contains).
    """
    exact, contains = _lookup(table)
    roles: dict[str, int] = {}
    bases = [header_base(c) for c in cells]
    for index, base in enumerate(bases):
        role = exact.get(base) if base else None
        if role is not None and role not in roles:
            roles[role] = index
    taken = set(roles.values())
    for index, base in enumerate(bases):
        if not base or index in taken or len(base) > 20:
            continue
        role = next((r for word, r in contains if word in base), None)
        if role is not None and role not in roles:
            roles[role] = index
            taken.add(index)
    return roles


@functools.cache
def _operators() -> tuple[tuple[str, str], ...]:
    pairs = [(str(word), op) for op, words in synonyms()["operators"].items() for word in words]
    # Longest spelling first, so "≥=" or ">=" is not read as ">" followed by "=".
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


def operator_of(text: str) -> tuple[str | None, str]:
    """(">=", rest) for a leading comparison sign in any spelling; ("qualitative", "") for 定性."""
    stripped = text.strip()
    for word, op in _operators():
        if stripped.startswith(word):
            return op, stripped[len(word) :].strip()
    return None, stripped


@functools.cache
def total_words() -> tuple[str, ...]:
    return tuple(str(w) for w in synonyms()["totals"])


def budget_row_kind(label: str) -> str | None:
    """ "total", a breakdown key (current_appropriation …) or None for a budget row label."""
    text = _SPACES.sub("", label).rstrip("：:")
    rows = synonyms()["budget_rows"]
    breakdown = text.startswith("其中")
    text = text.removeprefix("其中").lstrip("：:")
    # "年度财政资金总额" is the total although it contains "财政资金": totals first, unless
    # the label says 其中.
    if not breakdown and any(str(w) in text for w in rows["total"]):
        return "total"
    for key, words in rows["breakdown"].items():
        if any(str(w) in text for w in words):
            return str(key)
    return None
