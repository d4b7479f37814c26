"""parse_decimal: what the web form's validation accepts and rejects."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from scoring import InputError, builtin_scheme, parse_decimal, parse_target, score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.5", "1234.5"),
        ("１２３．５", "123.5"),
        (" 98 ", "98"),
        ("0", "0"),
        ("1,234,567", "1234567"),
        ("0.5", "0.5"),
        ("-0", "0"),
    ],
)
def test_parse_decimal_accepts(text: str, expected: str) -> None:
    assert parse_decimal(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["", "  ", "NaN", "Infinity", "-inf", "-3", "abc", "12,34", "1e999", "98%"]
)
def test_parse_decimal_rejects(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_decimal(text)
    assert isinstance(info.value, ValueError)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(info.value))


def test_parse_decimal_options() -> None:
    assert parse_decimal("98%", allow_percent=True) == Decimal(98)
    assert parse_decimal("-3", allow_negative=True) == Decimal(-3)


@pytest.mark.parametrize(
    ("text", "op", "value", "unit"),
    [
        ("≥90%", ">=", "90", "%"),
        ("≤90万元", "<=", "90", "万元"),
        ("=100%", "=", "100", "%"),
        ("1 (个)", None, "1", "个"),
        ("≥N百分比", None, None, ""),
        ("≥95百分比", ">=", "95", "%"),
        ("＞５", ">", "5", ""),
        ("正常", None, None, ""),
        ("按照招标决定%", None, None, ""),
    ],
)
def test_parse_target(text: str, op: str | None, value: str | None, unit: str) -> None:
    target = parse_target(text)
    assert target.op == op
    assert target.value == (None if value is None else Decimal(value))
    if value is not None:
        assert target.unit == unit
    assert target.text == text


def test_caller_context_does_not_change_scores() -> None:
    scheme = builtin_scheme("central")
    entries = {"budget_execution": {"numerator": "43.09", "denominator": "50"}}
    expected = score(scheme, entries).row("budget_execution").score
    with localcontext() as ctx:
        ctx.prec = 3
        assert score(scheme, entries).row("budget_execution").score == expected == Decimal("8.62")
