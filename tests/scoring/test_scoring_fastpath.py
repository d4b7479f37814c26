"""The engine's fast paths give exactly what the general functions give (scoring/engine.py).

Each kind has a fast path for its common case and falls back to the general function for the
rest; the plain-number shortcuts in scoring/numbers.py must split and parse like the full
pattern.  These tests compare the two on generated inputs, edge cases included.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_helpers import one_leaf_scheme

from scoring import (
    InputError,
    Scheme,
    builtin_scheme,
    engine,
    parse_decimal,
    scheme_from_dict,
    score,
)
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
texts = st.one_of(
    st.builds(lambda n, u: n + u, numbers, units),
    st.sampled_from(["/", "—", "-", "*", "不适用", "达成", "部分达成", "未达成预期", "正常", ""]),
    st.sampled_from(["≥90%", "<=5天", "=0次", "  95%  ", "-3%", "100.00%", "101%", "1,000人次"]),
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


def _plans(scheme: Scheme) -> list[Any]:
    return list(engine._compile(scheme).plans)


def _same_row(scheme: Scheme, entry: dict[str, Any]) -> None:
    compiled = engine._compile(scheme)
    for plan in compiled.plans:
        if plan.zero_weight:
            continue
        try:
            slow = plan.func(plan, entry, compiled.options)
        except ArithmeticError as exc:  # e.g. a 40-digit actual (the same in both paths)
            with pytest.raises(type(exc)):
                plan.fast(plan, entry, compiled.options)
            continue
        fast = plan.fast(plan, entry, compiled.options)
        assert fast == slow
        assert fast.to_dict() == slow.to_dict()
        assert repr(fast.inputs) == repr(slow.inputs)


entries = st.fixed_dictionaries(
    {"actual": texts},
    optional={
        "reason": st.sampled_from(["", "  ", "已说明", None, 0, 1]),
        "score": st.sampled_from(["", None, "1", "9.5", "abc", "100"]),
        "tier": st.sampled_from(["", " ", "达成", "部分达成", "完全没有", None]),
        "imported": st.booleans(),
    },
)


@MANY
@given(
    kind=st.sampled_from(["forward", "reverse", "equal", "satisfaction"]),
    target=st.builds(lambda n, u: n + u, st.sampled_from(["0", "1", "90", "95.5", "1,000"]), units),
    formula=st.sampled_from(["ratio", "linear"]),
    entry=entries,
)
def test_quantitative_fast_path(
    kind: str, target: str, formula: str, entry: dict[str, Any]
) -> None:
    extra = {"reverse_formula": formula} if kind == "reverse" else {}
    scheme = one_leaf_scheme(kind, weight="2.5", target=target, **extra)
    _same_row(scheme, entry)


tier_labels = st.sampled_from(
    [
        "达成",
        "部分达成",
        "未达成",
        "达成预期目标",
        " 部分达成并具有一定效果 ",
        "",
        "  ",
        "正常",
        "95%",
    ]
)


@MANY
@given(
    tier=st.one_of(st.none(), tier_labels, st.just(3)),
    actual=st.one_of(st.none(), tier_labels, st.just(7)),
    score_text=st.sampled_from([None, "", "9", "7.5", "x"]),
    reason=st.sampled_from([None, "", "有"]),
    manual=st.booleans(),
)
def test_tier_fast_path(tier: Any, actual: Any, score_text: Any, reason: Any, manual: bool) -> None:
    entry = {"tier": tier, "actual": actual, "score": score_text, "reason": reason}
    entry = {k: v for k, v in entry.items() if v is not None}
    scheme = one_leaf_scheme("tier", weight="10", target="明显")
    if manual:
        scheme = scheme_from_dict({**scheme.to_dict(), "tier_default": "manual"})
    _same_row(scheme, entry)


@MANY
@given(
    points=st.one_of(
        st.lists(tier_labels, min_size=0, max_size=4),
        st.just("达成"),
        st.lists(st.sampled_from([1, None, "达成"]), min_size=3, max_size=3),
    ),
    score_text=st.sampled_from([None, "", "5"]),
    reason=st.sampled_from([None, "", "有"]),
    shares=st.sampled_from([["1/3"] * 3, ["0.5", "0.3", "0.2"]]),
)
def test_checklist_fast_path(points: Any, score_text: Any, reason: Any, shares: list[str]) -> None:
    entry = {"points": points, "score": score_text, "reason": reason}
    entry = {k: v for k, v in entry.items() if v is not None}
    scheme = one_leaf_scheme(
        "checklist", weight="7", target="规范", points=["一", "二", "三"], shares=shares
    )
    _same_row(scheme, entry)
    _same_row(scheme, entry)  # the second time from the memo


amounts = st.one_of(
    numbers, st.sampled_from(["0", "0.00", "1,234.50", "１２", "-3", "1e3", "", " 12 ", None, 5])
)


@MANY
@given(
    kind=st.sampled_from(["ratio", "budget"]),
    numerator=amounts,
    denominator=amounts,
    initial=st.sampled_from([None, "", "100", 0, "x"]),
    actual=st.sampled_from([None, "", "95%", "达成", "/"]),
    score_text=st.sampled_from([None, "", "1"]),
    reason=st.sampled_from([None, "", "有"]),
    reason_below=st.sampled_from([None, "0.90"]),
)
def test_ratio_fast_path(
    kind: str,
    numerator: Any,
    denominator: Any,
    initial: Any,
    actual: Any,
    score_text: Any,
    reason: Any,
    reason_below: Any,
) -> None:
    entry = {
        "numerator": numerator,
        "denominator": denominator,
        "initial": initial,
        "actual": actual,
        "score": score_text,
        "reason": reason,
    }
    entry = {k: v for k, v in entry.items() if v is not None}
    rule: dict[str, Any] = {} if reason_below is None else {"reason_below": reason_below}
    scheme = one_leaf_scheme(kind, weight="5", target="100%", **rule)
    _same_row(scheme, entry)


def test_memo_off_gives_the_same_scorecards(monkeypatch: pytest.MonkeyPatch) -> None:
    forms = [
        {"quantity_1": {"actual": "95%"}},
        {"budget_execution": {"numerator": "45", "denominator": "50"}},
    ]
    with_memo = [score(builtin_scheme("jiangsu-2022"), f).to_dict() for f in forms]
    monkeypatch.setattr(engine, "_MEMO_MAX", 0)
    fresh = scheme_from_dict(builtin_scheme("jiangsu-2022").to_dict())
    without = [score(fresh, f).to_dict() for f in forms]
    assert with_memo == without
    assert all(not plan.point_labels for plan in _plans(fresh))


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
