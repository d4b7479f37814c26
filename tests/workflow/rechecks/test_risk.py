"""The risk rules, one table row per rule: the facts that fire it and the ones just short."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from workflow.rechecks import risk

T = risk.Thresholds()
CASES = [
    ("high_total_low_execution", risk.Facts(self_total=D(95), execution_rate=D("0.79")), True),
    ("high_total_low_execution", risk.Facts(self_total=D("94.99"), execution_rate=D("0.5")), False),
    ("high_total_low_execution", risk.Facts(self_total=D(99), execution_rate=D("0.80")), False),
    ("qualitative_all_full", risk.Facts(qualitative_rows=4, qualitative_full=4), True),
    ("qualitative_all_full", risk.Facts(qualitative_rows=4, qualitative_full=3), False),
    ("qualitative_all_full", risk.Facts(qualitative_rows=0, qualitative_full=0), False),
    ("shortfall_full", risk.Facts(shortfall_full=1), True),
    ("shortfall_full", risk.Facts(shortfall_full=0), False),
    ("over_without_reason", risk.Facts(over_no_reason=D("1.30")), True),
    ("over_without_reason", risk.Facts(over_no_reason=D("1.2999")), False),
    ("tier_mismatch", risk.Facts(tier_mismatch=2), True),
    ("above_department", risk.Facts(self_total=D(90), dept_total=D(85)), True),
    ("above_department", risk.Facts(self_total=D("89.99"), dept_total=D(85)), False),
    ("above_department", risk.Facts(self_total=D(90), dept_total=None), False),
    ("late_adjustment", risk.Facts(adjusted_on=date(2022, 10, 1), adjusted_month=10), True),
    ("late_adjustment", risk.Facts(adjusted_on=date(2022, 9, 30), adjusted_month=9), False),
]


@pytest.mark.parametrize(("key", "facts", "fires"), CASES)
def test_rule(key: str, facts: risk.Facts, fires: bool) -> None:
    found = {f.key: f for f in risk.assess(facts, T)}
    assert (key in found) is fires
    if fires:
        assert found[key].label == risk.RULE_LABELS[key]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in found[key].reason)


def test_every_rule_has_a_case_that_fires() -> None:
    assert {k for k, _, fires in CASES if fires} == {r.key for r in risk.RULES}


def test_thresholds_come_from_configuration() -> None:
    limits = risk.Thresholds.from_config({"RISK_ABOVE_DEPARTMENT": "3", "RISK_HIGH_TOTAL": "90"})
    facts = risk.Facts(self_total=D(88), dept_total=D(85))
    assert [f.key for f in risk.assess(facts, limits)] == ["above_department"]
    assert risk.assess(facts, T) == []
    assert "≥3" in risk.assess(facts, limits)[0].reason
