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
    year: int | None = None


@dataclass(frozen=True, slots=True)
class RiskRule:
    key: str
    label: str
    applies: Callable[[Facts, Thresholds], bool]
    reason: Callable[[Facts, Thresholds], str]


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


RULES: tuple[RiskRule, ...] = (
    RiskRule(
        "high_total_low_execution",
        "高分低执行",
        lambda f, t: (
            f.self_total is not None
            and f.execution_rate is not None
            and f.self_total >= t.high_total
            and f.execution_rate < t.low_execution
        ),
        lambda f, t: (
            f"自评 {f.self_total} 分（≥{t.high_total}）而预算执行率 "
            f"{_pct(f.execution_rate or Decimal(0))}（<{_pct(t.low_execution)}）"
        ),
    ),
    RiskRule(
        "qualitative_all_full",
        "定性指标全部满分",
        lambda f, t: f.qualitative_rows > 0 and f.qualitative_full >= f.qualitative_rows,
        lambda f, t: f"{f.qualitative_rows} 项定性指标全部自评满分",
    ),
    RiskRule(
        "shortfall_full",
        "未达标仍满分",
        lambda f, t: f.shortfall_full > 0,
        lambda f, t: f"{f.shortfall_full} 项指标未达目标值（或突破上限）仍自评满分",
    ),
    RiskRule(
        "over_without_reason",
        "超额完成无说明",
        lambda f, t: f.over_no_reason is not None and f.over_no_reason >= t.over_ratio,
        lambda f, t: (
            f"完成值达目标的 {_pct(f.over_no_reason or Decimal(0))}"
            f"（≥{_pct(t.over_ratio)}）未说明原因"
        ),
    ),
    RiskRule(
        "tier_mismatch",
        "档次与得分不符",
        lambda f, t: f.tier_mismatch > 0,
        lambda f, t: f"{f.tier_mismatch} 项指标所选档次与得分不符",
    ),
    RiskRule(
        "above_department",
        "自评高于审核",
        lambda f, t: (
            f.self_total is not None
            and f.dept_total is not None
            and f.self_total - f.dept_total >= t.above_department
        ),
        lambda f, t: (
            f"自评 {f.self_total} 分，高出主管部门审核 "
            f"{(f.self_total or Decimal(0)) - (f.dept_total or Decimal(0))} 分"
            f"（≥{t.above_department}）"
        ),
    ),
    RiskRule(
        "late_adjustment",
        "年末调整目标",
        lambda f, t: (
            f.adjusted_on is not None
            and f.year is not None
            and f.adjusted_on >= date(f.year, t.late_month, 1)
        ),
        lambda f, t: f"绩效目标于 {f.adjusted_on} 调整（{t.late_month} 月及以后）",
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


def weight(findings: int, per_reason: float) -> float:
    """The sampling weight of an evaluation with this many findings (1 without any)."""
    return 1.0 + per_reason * findings
