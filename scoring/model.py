"""The data a scheme (评价指标体系) is made of: tiers, targets, rules, indicators, groups.

A scheme is plain, immutable data.  :meth:`Scheme.to_dict` gives the JSON snapshot an
evaluation stores, and :func:`scheme_from_dict` (in :mod:`scoring.schemes`) is its exact
inverse.  Nothing here computes a score; :mod:`scoring.engine` does.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from .numbers import ONE, fmt, parse_quantity

__all__ = [
    "KINDS",
    "NA_POLICIES",
    "OPS",
    "QUANTITATIVE_KINDS",
    "TIERS",
    "Band",
    "Group",
    "Indicator",
    "Rule",
    "Scheme",
    "Target",
    "parse_target",
    "tier_from_label",
]

Kind = Literal[
    "checklist", "tier", "forward", "reverse", "equal", "ratio", "satisfaction", "budget"
]
KINDS: tuple[str, ...] = (
    "checklist",
    "tier",
    "forward",
    "reverse",
    "equal",
    "ratio",
    "satisfaction",
    "budget",
)
# Kinds whose score comes from numbers compared with a target (as opposed to a tier label).
QUANTITATIVE_KINDS = frozenset({"forward", "reverse", "equal", "satisfaction"})
OPS: tuple[str, ...] = (">=", "<=", "=", ">", "<")
NA_POLICIES: tuple[str, ...] = ("rescale", "exclude")


@dataclass(frozen=True, slots=True)
class Band:
    """A qualitative tier's share of the weight: [low, high] or [low, high).

    财预〔2020〕10号 gives 100–80%(含), 80–60%(含), 60–0%; "(含)" belongs to the lower
    bound, so only the top tier includes its upper bound.
    """

    name: str
    low: Decimal
    high: Decimal
    high_inclusive: bool

    def text(self) -> str:
        close = "]" if self.high_inclusive else ")"
        return f"[{fmt(self.low * 100)}%, {fmt(self.high * 100)}%{close}"


TIERS: Mapping[str, Band] = {
    "达成": Band("达成", Decimal("0.8"), ONE, True),
    "部分达成": Band("部分达成", Decimal("0.6"), Decimal("0.8"), False),
    "未达成": Band("未达成", Decimal(0), Decimal("0.6"), False),
}

# Label spellings seen on published forms.  Negatives are checked first because "未达成"
# contains "达成" and "未完成" contains "完成".
_NEGATIVE_WORDS = ("未达成", "未完成", "没有达成", "没有完成", "未达到", "未实现", "效果较差")
_PARTIAL_WORDS = ("部分达成", "部分完成", "部分实现", "部分达到")
_POSITIVE_WORDS = ("达成", "完成", "达到", "实现")


@functools.lru_cache(maxsize=1024)
def tier_from_label(label: str) -> str | None:
    """Map a tier label ("达成预期目标", "部分达成并具有一定效果", ...) to a TIERS key."""
    text = label.strip()
    if not text:
        return None
    if text in TIERS:
        return text
    if any(word in text for word in _NEGATIVE_WORDS):
        return "未达成"
    if any(word in text for word in _PARTIAL_WORDS):
        return "部分达成"
    if any(word in text for word in _POSITIVE_WORDS):
        return "达成"
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """The approved 年度指标值: a comparison with a number and unit, or only a text."""

    op: str | None = None
    value: Decimal | None = None
    unit: str = ""
    text: str = ""

    @property
    def numeric(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "value": None if self.value is None else str(self.value),
            "unit": self.unit,
            "text": self.text,
        }


def parse_target(text: str) -> Target:
    """Read a target as printed: "≥90%", "≤90万元", "1 (个)", "100%", "正常", "按照招标决定%"."""
    original = text.strip()
    parsed = parse_quantity(original)
    if parsed is None:
        return Target(op=None, value=None, unit="", text=original)
    op, value, unit = parsed
    return Target(op=op, value=value, unit=unit, text=original)


@dataclass(frozen=True, slots=True)
class Rule:
    """How a leaf is scored.  Parameters unused by a kind keep their defaults.

    - checklist: ``points`` (评价要点 texts) and ``shares`` (each point's share, summing to 1);
    - reverse: ``reverse_formula`` "ratio" (target / actual × weight) or "linear" (falls to 0
      at twice the target);
    - ratio / budget: ``numerator_label`` / ``denominator_label`` name the amounts in the
      explanation; ``reason_below`` is the rate under which a 偏差原因 is required (0.90 for
      执行率 in the Sichuan rule; None = only the general below-full-marks rule).
    """

    kind: str
    points: list[str] = field(default_factory=list)
    shares: list[Decimal] = field(default_factory=list)
    reverse_formula: str = "ratio"
    numerator_label: str = ""
    denominator_label: str = ""
    reason_below: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "points": list(self.points),
            "shares": [str(share) for share in self.shares],
            "reverse_formula": self.reverse_formula,
            "numerator_label": self.numerator_label,
            "denominator_label": self.denominator_label,
            "reason_below": None if self.reason_below is None else str(self.reason_below),
        }


@dataclass(frozen=True, slots=True)
class Indicator:
    """A leaf (三级指标): the only level that carries a weight, a target and a score."""

    code: str
    path: tuple[str, str, str]
    weight: Decimal
    target: Target
    rule: Rule
    rule_text: str = ""

    @property
    def name(self) -> str:
        return self.path[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.path[2],
            "weight": str(self.weight),
            "target": self.target.to_dict(),
            "rule": self.rule.to_dict(),
            "rule_text": self.rule_text,
        }


@dataclass(frozen=True, slots=True)
class Group:
    """A 一级 (path of 1) or 二级 (path of 2) heading, with its printed weight if any.

    A group may hold no leaves: the seed's blank 生态效益 / 可持续影响 rows are kept as
    empty groups so the form still shows them, with no weight.
    """

    path: tuple[str, ...]
    weight: Decimal | None = None


@dataclass(frozen=True)
class Scheme:
    """An indicator scheme.  ``indicators`` are the leaves in display order.

    ``na_policy``: "rescale" re-weights the applicable rows to the total (按百分制折算);
    "exclude" leaves the weight of not-applicable rows out, so the maximum is lower.
    ``over_threshold``: actual ≥ threshold × target counts as strong over-achievement and
    needs a reason; ``over_zero_target`` plays that role when the target is 0.
    ``tier_default``: "top" scores a tier without a manual score at the top of its band;
    "manual" requires a manual score.
    """

    name: str
    version: str
    title: str
    total: Decimal
    na_policy: str
    indicators: list[Indicator]
    over_threshold: Decimal = Decimal("1.30")
    over_zero_target: Decimal = Decimal(30)
    tier_default: str = "top"
    groups: list[Group] = field(default_factory=list)
    layout: str = ""
    description: str = ""
    # Per-scheme precomputed scoring plan, filled lazily by the engine; not part of equality.
    _cache: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def indicator(self, code: str) -> Indicator:
        for item in self.indicators:
            if item.code == code:
                return item
        raise KeyError(code)

    def group_weight(self, path: tuple[str, ...]) -> Decimal | None:
        for group in self.groups:
            if group.path == path:
                return group.weight
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able snapshot (numbers as strings); :func:`scheme_from_dict` inverts it."""
        tree: list[dict[str, Any]] = []
        level1 = [g for g in self.groups if len(g.path) == 1]
        for top in level1:
            children: list[dict[str, Any]] = []
            for sub in self.groups:
                if len(sub.path) != 2 or sub.path[0] != top.path[0]:
                    continue
                children.append(
                    {
                        "name": sub.path[1],
                        "weight": None if sub.weight is None else str(sub.weight),
                        "indicators": [
                            ind.to_dict() for ind in self.indicators if ind.path[:2] == sub.path
                        ],
                    }
                )
            tree.append(
                {
                    "name": top.path[0],
                    "weight": None if top.weight is None else str(top.weight),
                    "children": children,
                }
            )
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "layout": self.layout,
            "description": self.description,
            "total": str(self.total),
            "na_policy": self.na_policy,
            "over_threshold": str(self.over_threshold),
            "over_zero_target": str(self.over_zero_target),
            "tier_default": self.tier_default,
            "tree": tree,
        }
