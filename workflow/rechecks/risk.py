"""Risk rules (风险提示) as data: each takes an evaluation's facts as plain values and the
thresholds from configuration, and says why the evaluation looks inflated.

Pure: no Flask, no database. The facts come from ``workflow.models.RiskFacts`` (filled by
``operations.refresh_facts`` from the self scores), the thresholds from the app's config
(``RISK_*``); the same function serves the badges, the risk-weighted sample and the
benchmark over a million rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Thresholds:
    high_total: Decimal = Decimal(95)  # a self total this high ...
    low_execution: Decimal = Decimal("0.80")  # ... while 预算执行率 is under this
    over_ratio: Decimal = Decimal("1.30")  # over-achievement that needs a reason
    above_department: Decimal = Decimal(5)  # self total this far above the department's
    late_month: int = 10  # targets adjusted in this month of the year or later

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Thresholds:
        d = cls()
        return cls(
            high_total=Decimal(str(config.get("RISK_HIGH_TOTAL", d.high_total))),
            low_execution=Decimal(str(config.get("RISK_LOW_EXECUTION", d.low_execution))),
            over_ratio=Decimal(str(config.get("RISK_OVER_RATIO", d.over_ratio))),
            above_department=Decimal(str(config.get("RISK_ABOVE_DEPARTMENT", d.above_department))),
            late_month=int(config.get("RISK_LATE_MONTH", d.late_month)),
        )


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules look at, for one evaluation (None: not known yet)."""

    self_total: Decimal | None = None
    dept_total: Decimal | None = None
    execution_rate: Decimal | None = None  # 全年执行数 / 全年预算数
    qualitative_rows: int = 0
    qualitative_full: int = 0
    shortfall_full: int = 0  # a shortfall or a breached ceiling scored full
    over_no_reason: Decimal | None = None  # the highest achievement ratio without a reason
    tier_mismatch: int = 0  # a tier label that disagrees with its score
    adjusted_on: date | None = None  # the last approved adjustment of the targets
    # The month of that adjustment counted from January of the cycle's year (November of
    # the year is 11, January after it 13).
    adjusted_month: int | None = None


# A condition: (fact, operator, right side). The right side is a threshold's name, a fact's
# name ("fact:<name>"), a whole number, or (fact, threshold) for "fact + threshold". Every
# fact named must be known (not None) for the condition to hold. The same data is read by
# ``assess`` here and compiled into SQL by workflow/rechecks/facts.py, so that a batch over a
# million evaluations asks the database which rules fire, and the reasons are written here.
Right = str | int | tuple[str, str]
Condition = tuple[str, str, Right]
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: bool(a >= b),
    ">": lambda a, b: bool(a > b),
    "<": lambda a, b: bool(a < b),
}


@dataclass(frozen=True, slots=True)
class RiskRule:
    key: str
    label: str
    conditions: tuple[Condition, ...]
    reason: Callable[[Facts, Thresholds], str]

    def applies(self, facts: Facts, thresholds: Thresholds) -> bool:
        for fact, op, right in self.conditions:
            left = getattr(facts, fact)
            value = right_value(right, facts, thresholds)
            if left is None or value is None or not OPERATORS[op](left, value):
                return False
        return True


def right_value(right: Right, facts: Facts, thresholds: Thresholds) -> Any:
    if isinstance(right, int):
        return right
    if isinstance(right, tuple):
        base = getattr(facts, right[0])
        return None if base is None else base + getattr(thresholds, right[1])
    if right.startswith("fact:"):
        return getattr(facts, right[5:])
    return getattr(thresholds, right)


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


RULES: tuple[RiskRule, ...] = (
    RiskRule(
        "high_total_low_execution",
        "高分低执行",
        (("self_total", ">=", "high_total"), ("execution_rate", "<", "low_execution")),
        lambda f, t: (
            f"自评 {f.self_total} 分（≥{t.high_total}）而预算执行率 "
            f"{_pct(f.execution_rate or Decimal(0))}（<{_pct(t.low_execution)}）"
        ),
    ),
    RiskRule(
        "qualitative_all_full",
        "定性指标全部满分",
        (("qualitative_rows", ">", 0), ("qualitative_full", ">=", "fact:qualitative_rows")),
        lambda f, t: f"{f.qualitative_rows} 项定性指标全部自评满分",
    ),
    RiskRule(
        "shortfall_full",
        "未达标仍满分",
        (("shortfall_full", ">", 0),),
        lambda f, t: f"{f.shortfall_full} 项指标未达目标值（或突破上限）仍自评满分",
    ),
    RiskRule(
        "over_without_reason",
        "超额完成无说明",
        (("over_no_reason", ">=", "over_ratio"),),
        lambda f, t: (
            f"完成值达目标的 {_pct(f.over_no_reason or Decimal(0))}"
            f"（≥{_pct(t.over_ratio)}）未说明原因"
        ),
    ),
    RiskRule(
        "tier_mismatch",
        "档次与得分不符",
        (("tier_mismatch", ">", 0),),
        lambda f, t: f"{f.tier_mismatch} 项指标所选档次与得分不符",
    ),
    RiskRule(
        "above_department",
        "自评高于审核",
        (("self_total", ">=", ("dept_total", "above_department")),),
        lambda f, t: (
            f"自评 {f.self_total} 分，高出主管部门审核 "
            f"{(f.self_total or Decimal(0)) - (f.dept_total or Decimal(0))} 分"
            f"（≥{t.above_department}）"
        ),
    ),
    RiskRule(
        "late_adjustment",
        "年末调整目标",
        (("adjusted_month", ">=", "late_month"),),
        lambda f, t: f"绩效目标于 {f.adjusted_on or ''} 调整（{t.late_month} 月及以后）",
    ),
)
RULE_LABELS = {rule.key: rule.label for rule in RULES}


@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    label: str
    reason: str


def assess(facts: Facts, thresholds: Thresholds) -> list[Finding]:
    """Every rule that marks these facts as risky, with its reason in Chinese."""
    return [
        Finding(rule.key, rule.label, rule.reason(facts, thresholds))
        for rule in RULES
        if rule.applies(facts, thresholds)
    ]


def assess_mask(mask: int, facts: Facts, thresholds: Thresholds) -> list[Finding]:
    """The findings of the rules whose bits are set (bit i = RULES[i]), from the facts."""
    return [
        Finding(rule.key, rule.label, rule.reason(facts, thresholds)) for rule in _RULES_OF[mask]
    ]


# The rules of every mask, in RULES order: a batch writes the reasons of 50,000 evaluations.
_RULES_OF = [
    tuple(rule for i, rule in enumerate(RULES) if mask >> i & 1) for mask in range(1 << len(RULES))
]


def weight(findings: int, per_reason: float) -> float:
    """The sampling weight of an evaluation with this many findings (1 without any)."""
    return 1.0 + per_reason * findings
