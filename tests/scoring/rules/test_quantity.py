"""Quantitative rows (scoring/rules/quantity.py): the reverse formula and extreme actuals."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.numbers import CTX, ONE, ZERO
from scoring.rules.quantity import reverse_formula

MANY = settings(max_examples=400, deadline=None)


def _reference_reverse(
    value: Decimal, target: Decimal, weight: Decimal, kind: str
) -> tuple[Decimal, str]:
    if value <= target:
        return weight, "met"
    if target == 0:
        return ZERO, "zero"
    if kind == "linear":
        excess = CTX.divide(CTX.subtract(value, target), target)
        if excess >= ONE:
            return ZERO, "linear_zero"
        return CTX.multiply(weight, CTX.subtract(ONE, excess)), "linear"
    return CTX.multiply(weight, CTX.divide(target, value)), "ratio"


positive = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False)


@MANY
@given(value=positive, target=positive, weight=positive, kind=st.sampled_from(["ratio", "linear"]))
def test_reverse_formula_under_ctx(
    value: Decimal, target: Decimal, weight: Decimal, kind: str
) -> None:
    """Its operators under CTX (as score() runs the rules) compute what CTX's methods do."""
    with localcontext() as caller:
        caller.prec = 5  # the caller's context plays no part
        want = _reference_reverse(value, target, weight, kind)
        with localcontext(CTX):
            got = reverse_formula(value, target, weight, kind)
    assert str(got[0]) == str(want[0])
    assert got[1] == want[1]


def test_absurdly_large_actual_is_capped_and_printable() -> None:
    import scoring

    scheme = scoring.builtin_scheme("central")
    forward = next(i for i in scheme.indicators if i.rule.kind == "forward")
    entries = {i.code: {"actual": "1"} for i in scheme.indicators}
    entries[forward.code] = {"actual": "9" * 40}
    row = scoring.score(scheme, entries).row(forward.code)
    assert row.score == forward.weight
    assert "9" * 40 in row.explanation
    assert {f.code for f in row.flags} >= {"over_achievement", "reason_required"}
