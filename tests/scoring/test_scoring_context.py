"""The engine's arithmetic under CTX as the current context gives what CTX's methods give.

score() makes CTX the current context while it scores the rows, so the rules can use
Decimal operators instead of Context methods (tests/scoring/rules checks those); a few helpers print with str() instead of
format(..., "f") and build Decimals without CTX.create_decimal.  These tests compare each of
them with the spelled-out reference (the code as it was) on generated inputs.
"""

from __future__ import annotations

import dataclasses
import pickle
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, Inexact, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Scorecard, builtin_scheme, score
from scoring.numbers import (
    _MAX_ADJUSTED_EXPONENT,
    _PLAIN_GROUPED,
    CTX,
    HUNDRED,
    ONE,
    Q2,
    ZERO,
    fmt,
    fmt2,
    fmt_pct,
    plain_decimal,
)

MANY = settings(max_examples=400, deadline=None)

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d.adjusted() < 26
)
amounts = st.one_of(
    decimals.map(lambda d: format(abs(d), "f")),
    st.integers(min_value=0, max_value=10**20).map(str),
    st.integers(min_value=0, max_value=10**12).map(lambda n: f"{n:,}"),
    st.builds(lambda n, f: f"{n:,}.{f}", st.integers(0, 10**9), st.integers(0, 10**6)),
    st.sampled_from(["0", "0.00", "000", "1234567890123456", "12345678901234567", "0." + "0" * 20]),
)


def _reference_fmt(value: Decimal) -> str:
    if value == value.to_integral_value():
        return format(value.quantize(ONE, context=CTX), "f")
    return format(value.normalize(CTX), "f")


@MANY
@given(value=decimals)
def test_printing_is_unchanged(value: Decimal) -> None:
    assert fmt(value) == _reference_fmt(value)
    assert fmt2(value) == format(value.quantize(Q2, rounding=ROUND_HALF_UP, context=CTX), "f")
    if value.adjusted() < 24:
        percent = CTX.multiply(value, HUNDRED)
        assert fmt_pct(value) == format(percent.quantize(Q2, ROUND_HALF_UP, CTX), "f") + "%"


def _reference_plain(text: str) -> Decimal | None:
    if not text.isascii():
        return None
    if text.replace(".", "", 1).isdigit():
        value = CTX.create_decimal(text)
    elif "," in text and _PLAIN_GROUPED.fullmatch(text) is not None:
        value = CTX.create_decimal(text.replace(",", ""))
    else:
        return None
    if value.adjusted() > _MAX_ADJUSTED_EXPONENT:
        return None
    return ZERO if value == 0 else value


@MANY
@given(text=amounts)
def test_plain_decimal_builds_what_ctx_builds(text: str) -> None:
    got = plain_decimal(text)
    want = _reference_plain(text)
    assert str(got) == str(want)


def test_scorecard_is_an_ordinary_scorecard() -> None:
    scheme = builtin_scheme("jiangsu-2022")
    entries = {ind.code: {"actual": "95%"} for ind in scheme.indicators}
    card = score(scheme, entries)
    fields = {f.name: getattr(card, f.name) for f in dataclasses.fields(Scorecard)}
    assert card == Scorecard(**fields)
    assert dataclasses.replace(card) == card
    assert pickle.loads(pickle.dumps(card)) == card
    assert card.blocking == any(f.blocking for f in card.flags)


def test_unusual_caller_contexts_give_the_same_card() -> None:
    scheme = builtin_scheme("central")
    entries = {ind.code: {"actual": "87.5%", "numerator": "43.09", "denominator": "50"}
               for ind in scheme.indicators}  # fmt: skip
    expected = score(scheme, entries).to_dict()
    for setup in (
        lambda c: setattr(c, "rounding", ROUND_DOWN),
        lambda c: setattr(c, "prec", 12),
        lambda c: c.traps.__setitem__(Inexact, True),
    ):
        with localcontext() as caller:
            setup(caller)
            assert score(scheme, entries).to_dict() == expected
