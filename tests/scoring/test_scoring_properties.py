"""Hypothesis properties of the engine (domain-rules.md §6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_helpers import one_leaf_scheme

from scoring import builtin_scheme, grade_for, score

FAST = settings(max_examples=100, deadline=None)

amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
weights = st.sampled_from(["1", "2", "2.5", "3", "10", "20", "50"])
targets = st.decimals(min_value=0, max_value=10**5, places=2, allow_nan=False, allow_infinity=False)
tiers = st.sampled_from(["达成", "部分达成", "未达成", "达成预期目标", "部分达成并具有一定效果"])
kinds = st.sampled_from(["forward", "reverse", "equal", "satisfaction"])


@FAST
@given(
    kind=kinds,
    weight=weights,
    target=targets,
    actual=amounts,
    formula=st.sampled_from(["ratio", "linear"]),
)
def test_row_between_zero_and_weight(
    kind: str, weight: str, target: Decimal, actual: Decimal, formula: str
) -> None:
    op = {"forward": "≥", "reverse": "≤", "equal": "=", "satisfaction": "≥"}[kind]
    if kind == "satisfaction":
        target = min(target, Decimal(100))
        actual = min(actual, Decimal(100))
    scheme = one_leaf_scheme(kind, weight=weight, target=f"{op}{target}", reverse_formula=formula)
    row = score(scheme, {"x": {"actual": str(actual)}}).row("x")
    assert row.score is not None
    assert Decimal(0) <= row.score <= Decimal(weight)
    assert row.score == row.score.quantize(Decimal("0.01"))


@FAST
@given(weight=weights, numerator=amounts, denominator=amounts)
def test_ratio_between_zero_and_weight(
    weight: str, numerator: Decimal, denominator: Decimal
) -> None:
    scheme = one_leaf_scheme("ratio", weight=weight, target="100%")
    row = score(scheme, {"x": {"numerator": str(numerator), "denominator": str(denominator)}}).row(
        "x"
    )
    if denominator == 0:
        assert row.score is None and not row.applicable
    else:
        assert row.score is not None and Decimal(0) <= row.score <= Decimal(weight)


@FAST
@given(weight=weights, tier=tiers, manual=st.one_of(st.none(), amounts))
def test_tier_between_zero_and_weight(weight: str, tier: str, manual: Decimal | None) -> None:
    entry: dict[str, Any] = {"actual": tier}
    if manual is not None:
        entry["score"] = str(manual)
    row = score(one_leaf_scheme("tier", weight=weight, target="明显"), {"x": entry}).row("x")
    assert row.score is not None and Decimal(0) <= row.score <= Decimal(weight)


@FAST
@given(weight=weights, target=targets.filter(lambda t: t > 0), a=amounts, b=amounts)
def test_forward_is_monotonic(weight: str, target: Decimal, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    scheme = one_leaf_scheme("forward", weight=weight, target=f"≥{target}")
    low_score = score(scheme, {"x": {"actual": str(low)}}).row("x").score
    high_score = score(scheme, {"x": {"actual": str(high)}}).row("x").score
    assert low_score is not None and high_score is not None
    assert high_score >= low_score


def _central_entries(draw: Any) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for ind in builtin_scheme("central").indicators:
        choice = draw(st.integers(min_value=0, max_value=9))
        if choice == 0:
            entries[ind.code] = {"na": True}
        elif ind.rule.kind == "budget":
            entries[ind.code] = {"numerator": str(draw(amounts)), "denominator": str(draw(amounts))}
        elif ind.rule.kind == "tier":
            entries[ind.code] = {"actual": draw(tiers)}
        else:
            entries[ind.code] = {"actual": f"{draw(st.integers(min_value=0, max_value=150))}%"}
    return entries


central_forms = st.composite(lambda draw: _central_entries(draw))()


@FAST
@given(entries=central_forms)
def test_total_between_zero_and_scheme_total(entries: dict[str, dict[str, Any]]) -> None:
    scheme = builtin_scheme("central")
    card = score(scheme, entries)
    assert Decimal(0) <= card.total <= scheme.total
    assert card.grade == grade_for(card.total)


@FAST
@given(entries=central_forms)
def test_scoring_twice_is_identical(entries: dict[str, dict[str, Any]]) -> None:
    scheme = builtin_scheme("central")
    first, second = score(scheme, entries), score(scheme, entries)
    assert first.total == second.total and str(first.total) == str(second.total)
    assert [r.score for r in first.rows] == [r.score for r in second.rows]
    assert [str(r.score) for r in first.rows] == [str(r.score) for r in second.rows]
    assert first.to_dict() == second.to_dict()
    assert first.rows == second.rows


@FAST
@given(cents=st.integers(min_value=0, max_value=10000))
def test_grade_bands_half_open(cents: int) -> None:
    total = Decimal(cents) / 100
    grade = grade_for(total)
    expected = "优" if total >= 90 else "良" if total >= 80 else "中" if total >= 60 else "差"
    assert grade == expected
