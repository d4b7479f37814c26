"""The plain-number shortcuts in scoring/numbers.py split and parse like the full pattern.

parse_quantity and plain_decimal take the common shapes ("87.23万元", "1,234.5") without the
full pattern or the full-width translation; these tests compare them with the spelled-out
reference on generated inputs.  (Formerly part of the engine's fast-path tests; the engine's
rules have one implementation each since issue 10, so only these shortcuts are compared.)
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import InputError, parse_decimal
from scoring.numbers import (
    _FULLWIDTH,
    _OPS,
    _QUANTITY,
    _UNIT_ALIASES,
    _UNIT_BRACKETS,
    parse_quantity,
    plain_decimal,
)

MANY = settings(max_examples=400, deadline=None)

digits = st.text(alphabet="0123456789", min_size=1, max_size=7)
numbers = st.one_of(
    digits,
    st.builds(lambda a, b: f"{a}.{b}", digits, digits),
    st.builds(lambda a, b: f"{int(a):,}.{b}", digits, digits),
    st.builds(lambda a: f"{int(a):,}", digits),
    st.sampled_from(
        ["0", "0.00", "-5", "+5", ".5", "5.", "1,2", "12,34", "1.2.3", "", " 7 ", "1e5"]
    ),
    st.sampled_from(["1_000", "NaN", "inf", "１２３", "12３", "٣", "1" * 20, "9" * 17, "0" * 30]),
)
units = st.sampled_from(
    [
        "",
        "%",
        "万元",
        "人次",
        "次",
        "天",
        "个",
        "(个)",
        "（个）",
        " 个",
        "百分比",
        "％",
        "%以上",
        "元/人",
    ]
    + [".%", ",元", "０", "　元", "万元 ", "2号", "-", "≥"]
)


def _reference_quantity(text: str) -> tuple[str | None, Decimal, str] | None:
    """parse_quantity as it was before the plain-number shortcut."""
    if not text.isascii():
        text = text.translate(_FULLWIDTH)
    match = _QUANTITY.match(text)
    if match is None:
        return None
    op, num, unit = match.group("op", "num", "unit")
    if "," in num:
        num = num.replace(",", "")
    value = Decimal(num)
    if unit:
        unit = unit.strip(_UNIT_BRACKETS)
        unit = _UNIT_ALIASES.get(unit, unit)
    return (_OPS[op] if op else None), value, unit


def _parse_or_error(text: str) -> Decimal | str:
    try:
        return parse_decimal(text)
    except InputError as exc:
        return f"error: {exc}"


@MANY
@given(number=numbers, unit=units)
def test_plain_quantity_splits_like_the_full_pattern(number: str, unit: str) -> None:
    text = number + unit
    got = parse_quantity.__wrapped__(text)
    want = _reference_quantity(text)
    assert got == want
    if got is not None and want is not None:
        assert str(got[1]) == str(want[1])


@MANY
@given(text=numbers)
def test_plain_decimal_agrees_with_parse_decimal(text: str) -> None:
    fast = plain_decimal(text)
    if fast is not None:
        slow = _parse_or_error(" " + text)  # the leading space forces the general path
        assert not isinstance(slow, str)
        assert str(fast) == str(slow)
