"""Table-driven tests per rule kind, with the boundaries of domain-rules.md §6."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from scoring_helpers import one_leaf_scheme

from scoring import builtin_scheme, grade_for, score, stage_total

D = Decimal


def row_of(scheme: Any, entry: dict[str, Any]) -> Any:
    return score(scheme, {"x": entry}).row("x")


def codes(row: Any) -> set[str]:
    return {f.code for f in row.flags}


def blocking(row: Any) -> set[str]:
    return {f.code for f in row.flags if f.blocking}


# kind, target, extra rule params, entry, expected score (None = no score), expected flag codes
FORWARD_CASES = [
    ("at target", ">=", "≥100%", {"actual": "100%", "reason": ""}, "10.00", set()),
    ("80% of target", ">=", "≥100%", {"actual": "80%", "reason": "r"}, "8.00", set()),
    ("60% of target", ">=", "≥100%", {"actual": "60%", "reason": "r"}, "6.00", set()),
    ("below, no reason", ">=", "≥100%", {"actual": "60%"}, "6.00", {"reason_required"}),
    ("above, capped", ">=", "≥100个", {"actual": "120个"}, "10.00", set()),
    (
        "over threshold",
        ">=",
        "≥100个",
        {"actual": "130个"},
        "10.00",
        {"over_achievement", "reason_required"},
    ),
    (
        "over with reason",
        ">=",
        "≥100个",
        {"actual": "131个", "reason": "超额"},
        "10.00",
        {"over_achievement"},
    ),
    ("zero target", ">=", "≥0次", {"actual": "0"}, "10.00", set()),
    (
        "zero target over",
        ">=",
        "≥0次",
        {"actual": "30", "reason": "r"},
        "10.00",
        {"over_achievement"},
    ),
    ("thousands", ">=", "≥1,000人次", {"actual": "1,234人次"}, "10.00", set()),
    ("full width", ">=", "≥100", {"actual": "９５．５"}, "9.55", {"reason_required"}),
    (
        "negative counts 0",
        ">=",
        "≥100",
        {"actual": "-5", "reason": "r"},
        "0.00",
        {"negative_actual"},
    ),
    ("missing actual", ">=", "≥100", {}, None, {"missing_input"}),
    ("not a number", ">=", "≥100", {"actual": "很多"}, None, {"invalid_number"}),
    ("unit mismatch", ">=", "≥100个", {"actual": "100次"}, "10.00", {"unit_mismatch"}),
    ("one third", ">=", "≥3", {"actual": "1", "reason": "r"}, "3.33", set()),
    ("half up", ">=", "≥8", {"actual": "1", "reason": "r"}, "1.25", set()),
]


@pytest.mark.parametrize(
    ("name", "op", "target", "entry", "expected", "flags"),
    FORWARD_CASES,
    ids=[c[0] for c in FORWARD_CASES],
)
def test_forward(
    name: str, op: str, target: str, entry: dict[str, Any], expected: str | None, flags: set[str]
) -> None:
    row = row_of(one_leaf_scheme("forward", target=target), entry)
    assert row.score == (None if expected is None else D(expected))
    assert codes(row) == flags
    assert row.explanation


def test_forward_explanation_has_numbers() -> None:
    row = row_of(one_leaf_scheme("forward", target="≥200个"), {"actual": "150个", "reason": "r"})
    assert row.explanation == "实际完成值 150个 / 指标值 200个 = 75.00%，得分 = 10 × 75.00% = 7.50"
    assert row.needs_reason


EQUAL_CASES = [
    ("zero target met", "=0次", {"actual": "0"}, "10.00"),
    ("zero target missed", "=0次", {"actual": "1", "reason": "r"}, "0.00"),
    ("zero target negative", "=0次", {"actual": "-1"}, "10.00"),
    ("equal met", "=100%", {"actual": "100%"}, "10.00"),
    ("equal short", "=100%", {"actual": "90%", "reason": "r"}, "9.00"),
]


@pytest.mark.parametrize(
    ("name", "target", "entry", "expected"), EQUAL_CASES, ids=[c[0] for c in EQUAL_CASES]
)
def test_equal(name: str, target: str, entry: dict[str, Any], expected: str) -> None:
    assert row_of(one_leaf_scheme("equal", target=target), entry).score == D(expected)


REVERSE_CASES = [
    ("ratio met", "ratio", "≤90万元", "90万元", "10.00"),
    ("ratio under", "ratio", "≤90万元", "45万元", "10.00"),
    ("ratio over", "ratio", "≤90万元", "100万元", "9.00"),
    ("linear over", "linear", "≤100万元", "120万元", "8.00"),
    ("linear 2x", "linear", "≤100万元", "200万元", "0.00"),
    ("linear beyond", "linear", "≤100万元", "350万元", "0.00"),
    ("zero target met", "ratio", "≤0次", "0次", "10.00"),
    ("zero target exceeded", "linear", "≤0次", "2次", "0.00"),
    ("zero target exceeded ratio", "ratio", "≤0次", "2次", "0.00"),
]


@pytest.mark.parametrize(
    ("name", "formula", "target", "actual", "expected"),
    REVERSE_CASES,
    ids=[c[0] for c in REVERSE_CASES],
)
def test_reverse(name: str, formula: str, target: str, actual: str, expected: str) -> None:
    scheme = one_leaf_scheme("reverse", target=target, reverse_formula=formula)
    row = row_of(scheme, {"actual": actual, "reason": "r"})
    assert row.score == D(expected)
    assert "上限" in row.explanation


TIER_CASES = [
    # tier/label, manual score, expected score, expected flags (weight 10)
    ("达成", None, "10.00", set()),
    ("达成预期目标", None, "10.00", set()),
    ("部分达成", None, "7.99", {"reason_required"}),
    ("部分达成并具有一定效果", "6", "6.00", {"reason_required"}),
    ("未达成", None, "5.99", {"reason_required"}),
    ("达成", "8", "8.00", {"reason_required"}),  # exactly 80%: lower bound is inside
    ("部分达成", "8", "8.00", {"score_outside_band", "reason_required"}),  # 80% is 达成's
    ("部分达成", "5.99", "5.99", {"score_outside_band", "reason_required"}),
    ("未达成", "6", "6.00", {"score_outside_band", "reason_required"}),  # 60% is 部分达成's
    ("达成", "11", "10.00", {"score_above_weight"}),
    ("不清楚", None, None, {"invalid_tier"}),
]


@pytest.mark.parametrize(("label", "manual", "expected", "flags"), TIER_CASES)
def test_tier(label: str, manual: str | None, expected: str | None, flags: set[str]) -> None:
    entry: dict[str, Any] = {"actual": label}
    if manual is not None:
        entry["score"] = manual
    row = row_of(one_leaf_scheme("tier", target="明显"), entry)
    assert row.score == (None if expected is None else D(expected))
    assert codes(row) == flags
    if "score_outside_band" in flags or "score_above_weight" in flags:
        assert row.flags and any(f.blocking for f in row.flags)


def test_tier_missing_is_not_zero() -> None:
    row = row_of(one_leaf_scheme("tier", target="明显"), {})
    assert row.score is None and not row.filled and row.applicable
    assert blocking(row) == {"missing_input"}


def test_imported_band_mismatch_is_not_blocking() -> None:
    row = row_of(
        one_leaf_scheme("tier", target="明显"),
        {"actual": "部分达成", "score": "5", "imported": True},
    )
    assert row.score == D("5.00")
    assert codes(row) == {"label_score_mismatch", "reason_required"}
    assert not any(f.blocking for f in row.flags)


def test_manual_tier_policy_requires_a_score() -> None:
    scheme = one_leaf_scheme("tier", target="明显")
    manual = type(scheme)(
        **{
            **{
                f: getattr(scheme, f)
                for f in ("name", "version", "title", "total", "na_policy", "indicators", "groups")
            },
            "tier_default": "manual",
        }
    )
    row = score(manual, {"x": {"tier": "达成"}}).row("x")
    assert row.score is None and blocking(row) == {"missing_input"}
    assert score(manual, {"x": {"tier": "达成", "score": "9"}}).row("x").score == D("9.00")


CHECKLIST_POINTS = ["一", "二", "三"]


@pytest.mark.parametrize(
    ("points", "manual", "expected", "flag"),
    [
        (["达成", "达成", "达成"], None, "2.00", None),
        (["达成", "达成", "部分达成"], None, "1.86", None),  # top below 2 × (2/3 + 0.8/3) = 1.8667
        (["部分达成", "部分达成", "部分达成"], None, "1.59", None),
        (["未达成", "未达成", "未达成"], "0", "0.00", None),
        (["达成", "达成", "达成"], "1.6", "1.60", None),
        (["达成", "达成", "达成"], "1.59", "1.59", "score_outside_band"),
        (["达成", "达成"], None, None, "invalid_tier"),
        (["达成", "", "达成"], None, None, "missing_input"),
    ],
)
def test_checklist(
    points: list[str], manual: str | None, expected: str | None, flag: str | None
) -> None:
    scheme = one_leaf_scheme(
        "checklist", weight="2", target="规范", points=CHECKLIST_POINTS, shares=["1/3"] * 3
    )
    entry: dict[str, Any] = {"points": points, "reason": "r"}
    if manual is not None:
        entry["score"] = manual
    row = row_of(scheme, entry)
    assert row.score == (None if expected is None else D(expected))
    if flag:
        assert flag in codes(row)
    else:
        assert not row.flags


def test_checklist_whole_tier_and_unequal_shares() -> None:
    scheme = one_leaf_scheme(
        "checklist", weight="4", target="合规", points=["a", "b"], shares=["0.75", "0.25"]
    )
    row = row_of(scheme, {"points": ["达成", "未达成"], "reason": "r"})
    # band: 4 × [0.75×0.8 + 0, 0.75×1 + 0.25×0.6) = [2.4, 3.6) -> top below 3.6 = 3.59
    assert row.score == D("3.59")
    assert row_of(scheme, {"tier": "达成"}).score == D("4.00")


RATIO_CASES = [
    ("full", "ratio", {"numerator": "50", "denominator": "50"}, "10.00", set()),
    ("86.18%", "ratio", {"numerator": "43.09", "denominator": "50", "reason": "r"}, "8.62", set()),
    ("80%", "ratio", {"numerator": "40", "denominator": "50", "reason": "r"}, "8.00", set()),
    ("60%", "ratio", {"numerator": "30", "denominator": "50", "reason": "r"}, "6.00", set()),
    ("over 100%", "ratio", {"numerator": "60", "denominator": "50"}, "10.00", {"rate_above_100"}),
    (
        "zero denominator",
        "ratio",
        {"numerator": "5", "denominator": "0"},
        None,
        {"zero_denominator"},
    ),
    ("zero over zero", "ratio", {"numerator": "0", "denominator": "0"}, None, {"zero_denominator"}),
    ("missing", "ratio", {}, None, {"missing_input"}),
    ("half missing", "ratio", {"numerator": "5"}, None, {"missing_input"}),
    (
        "separators",
        "budget",
        {"numerator": "450,000.00", "denominator": "500,000.00", "reason": "r"},
        "9.00",
        set(),
    ),
    ("percent typed", "ratio", {"actual": "95%", "reason": "r"}, "9.50", set()),
    ("negative amount", "ratio", {"numerator": "-1", "denominator": "5"}, None, {"invalid_number"}),
]


@pytest.mark.parametrize(
    ("name", "kind", "entry", "expected", "flags"), RATIO_CASES, ids=[c[0] for c in RATIO_CASES]
)
def test_ratio(
    name: str, kind: str, entry: dict[str, Any], expected: str | None, flags: set[str]
) -> None:
    row = row_of(one_leaf_scheme(kind, target="100%"), entry)
    assert row.score == (None if expected is None else D(expected))
    assert codes(row) == flags
    if name == "zero denominator":
        assert not row.applicable


def test_ratio_explanation_matches_issue_example() -> None:
    scheme = one_leaf_scheme(
        "ratio", target="100%", numerator_label="实际支出", denominator_label="实际到位"
    )
    row = row_of(scheme, {"numerator": "43.09", "denominator": "50", "reason": "r"})
    assert row.explanation == "实际支出 / 实际到位 = 43.09 / 50 = 86.18%，得分 = 10 × 86.18% = 8.62"


def test_budget_central_example_and_reason_threshold() -> None:
    scheme = builtin_scheme("central")
    card = score(
        scheme, {"budget_execution": {"numerator": "45", "denominator": "50", "initial": "48"}}
    )
    row = card.row("budget_execution")
    assert row.score == D("9.00")
    assert {"budget_adjusted", "reason_required"} <= codes(row)
    low = score(
        scheme, {"budget_execution": {"numerator": "40", "denominator": "50", "reason": "延期"}}
    )
    assert "execution_below_threshold" in codes(low.row("budget_execution"))
    assert not low.row("budget_execution").flags[0].blocking


SATISFACTION_CASES = [
    ("at", "≥90%", "90%", "10.00"),
    ("above", "≥90%", "99%", "10.00"),
    ("below", "≥90%", "81%", "9.00"),
    ("over 100", "≥90%", "101%", None),
]


@pytest.mark.parametrize(
    ("name", "target", "actual", "expected"),
    SATISFACTION_CASES,
    ids=[c[0] for c in SATISFACTION_CASES],
)
def test_satisfaction(name: str, target: str, actual: str, expected: str | None) -> None:
    row = row_of(one_leaf_scheme("satisfaction", target=target), {"actual": actual, "reason": "r"})
    assert row.score == (None if expected is None else D(expected))


def test_label_on_quantitative_and_text_target() -> None:
    row = row_of(one_leaf_scheme("forward", target="≥100%"), {"actual": "达成预期目标"})
    assert row.score == D("10.00")
    assert codes(row) == {"tier_label_on_quantitative"}


def test_manual_deduction_on_quantitative() -> None:
    scheme = one_leaf_scheme("forward", target="≥100%")
    row = row_of(scheme, {"actual": "100%", "score": "9"})
    assert row.score == D("9.00")
    assert {"deduction_when_met", "reason_required"} <= codes(row)
    above = row_of(scheme, {"actual": "50%", "score": "9", "reason": "r"})
    assert "score_above_formula" in blocking(above)


@pytest.mark.parametrize(
    ("policy", "expected_total", "flag"),
    [("rescale", "100.00", "na_rescaled"), ("exclude", "90.00", "na_excluded")],
)
def test_na_policies(policy: str, expected_total: str, flag: str) -> None:
    scheme = one_leaf_scheme("forward", target="≥100%", na_policy=policy)
    card = score(scheme, {"x": {"na": True}, "filler": {"tier": "达成"}})
    assert card.row("x").score is None and not card.row("x").applicable
    assert card.total == D(expected_total)
    assert flag in {f.code for f in card.flags}
    assert not card.blocking


def test_na_marker_and_partial_rescale() -> None:
    scheme = one_leaf_scheme("forward", target="≥100%")
    card = score(
        scheme, {"x": {"actual": "/"}, "filler": {"tier": "达成", "score": "81", "reason": "r"}}
    )
    # 81 of 90 applicable points, rescaled to 100: 90.00
    assert card.total == D("90.00")
    assert card.grade == "优"


def test_weights_mismatch_blocks() -> None:
    scheme = one_leaf_scheme("forward", target="≥100%")
    broken = type(scheme)(
        name="b",
        version="1",
        title="t",
        total=D(90),
        na_policy="rescale",
        indicators=scheme.indicators,
        groups=scheme.groups,
    )
    card = score(broken, {})
    assert any(f.code == "weights_mismatch" and f.blocking for f in card.flags)


def test_unknown_entry_flagged() -> None:
    card = score(one_leaf_scheme("tier", target="明显"), {"nope": {"tier": "达成"}})
    assert any(f.code == "unknown_entry" and not f.blocking for f in card.flags)


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        ("100", "优"),
        ("90.00", "优"),
        ("89.99", "良"),
        ("80", "良"),
        ("79.99", "中"),
        ("60.00", "中"),
        ("59.99", "差"),
        ("0", "差"),
    ],
)
def test_grade_boundaries(total: str, grade: str) -> None:
    assert grade_for(D(total)) == grade


def test_stage_total_uses_same_policy() -> None:
    scheme = builtin_scheme("jiangsu-2022")
    scores = {ind.code: ind.weight for ind in scheme.indicators}
    assert stage_total(scheme, scores) == D("100.00")
    scores["budget_execution_rate"] = D("1.5")
    assert stage_total(scheme, scores) == D("98.50")
    scores["budget_execution_rate"] = None  # reviewer marks it not applicable: rescaled
    assert stage_total(scheme, scores) == D("100.00")
    scores["budget_execution_rate"] = D("1.555")
    assert stage_total(scheme, scores) == D("98.56")


def test_scorecard_to_dict_is_json() -> None:
    import json

    card = score(
        builtin_scheme("central"), {"budget_execution": {"numerator": "45", "denominator": "50"}}
    )
    data = json.loads(json.dumps(card.to_dict(), ensure_ascii=False))
    assert data["scheme"] == {"name": "central", "version": "2024.1"}
    assert data["rows"][0]["score"] == "9.00"
    assert data["blocking"] is True  # the other rows are not filled
