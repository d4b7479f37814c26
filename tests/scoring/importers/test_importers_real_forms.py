"""Every real form of ../shared/forms read as its README says (the "by the rules" column)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from importer_files import FORMS, ROOT

from scoring import import_forms
from scoring.importers.compare import FormCheck, check_form

D = Decimal


def checks(name: str) -> list[FormCheck]:
    return [check_form(r) for r in import_forms(FORMS / name)]


def codes(check: FormCheck, code: str) -> list[str]:
    return [f.code for f in check.row_flags[code]]


def form_codes(check: FormCheck) -> list[str]:
    return [f.code for f in check.flags]


def test_the_five_forms_are_there() -> None:
    assert len(sorted(FORMS.glob("*.txt"))) == 5


def test_putuo_two_forms_never_merged() -> None:
    a, b = checks("putuo_tiyu_2022_two_forms.txt")
    assert a.result.published_total == "98.62" and a.result.published_grade is None
    assert a.card.total == D("98.62") and a.grade == "优" and not a.result.incomplete
    assert len(a.card.rows) == 6
    budget = a.card.row("budget_execution")
    assert budget.score == D("8.62")  # 10 × 215457.6 / 250000 = 10 × 86.18%
    rate = next(f for f in a.row_flags["budget_execution"] if f.code == "printed_rate_mismatch")
    assert "86.19%" in rate.message and "86.18%" in rate.message and "215457.6" in rate.message
    assert a.result.header["amount_unit"] == "元"
    # Form B: cut off after its budget block, reported incomplete, not graded.
    assert [r.code for r in b.card.rows] == ["budget_execution"]
    assert b.card.row("budget_execution").score == D("4.52")
    assert b.result.incomplete and b.grade is None and b.blocking
    assert "form_incomplete" in form_codes(b)
    assert b.result.header["project"] == "援滇对口支援及结对帮扶经费"


def test_huanggang_20_point_budget_and_inferred_weights() -> None:
    (form,) = checks("huanggang_shuitu_2020_20point.txt")
    card, result = form.card, form.result
    assert result.published_total == "99.6"
    assert card.total == D("100.00") and form.grade == "优" and not result.incomplete
    budget = card.row("budget_execution")
    assert budget.weight == D(20) and budget.score == D("20.00")
    satisfaction = card.row("satisfaction_1")
    assert satisfaction.weight == D(20) and satisfaction.score == D("20.00")
    flag = next(
        f for f in form.row_flags["satisfaction_1"] if f.code == "published_deduction_when_met"
    )
    assert "19.6" in flag.message and "98%" in flag.message
    assert [
        card.row(c).weight for c in ("quality_1", "timeliness_1", "quality_2", "timeliness_2")
    ] == [D(10), D(10), D(20), D(20)]
    inferred = next(f for f in form.flags if f.code == "weights_inferred")
    assert not inferred.blocking and "推定" in inferred.message
    assert result.inferred_weights["satisfaction_1"] == D(20)
    differs = next(f for f in form.flags if f.code == "published_total_differs")
    assert "99.6" in differs.message and "100.00" in differs.message
    # the empty 社会效益 / 满意度 rows of block 2 are not applicable, weight 0
    assert not card.row("social_1").applicable and card.row("social_1").weight == 0
    assert result.scheme.total == D(100) and not form.blocking


def test_qingshen_unfilled_template_is_incomplete() -> None:
    (form,) = checks("qingshen_gongzi_2023_sichuan_unfilled.txt")
    result = form.result
    assert result.incomplete and form.grade is None and form.blocking
    assert any("空白表" in r and "填写说明" in r for r in result.incomplete_reasons)
    assert result.header["budget_full"] == "251.89" and result.header["budget_initial"] == "238.93"
    assert result.declared_total == D(100) and result.scheme.total == D(100)
    assert [i.weight for i in result.scheme.indicators] == [D(10), D(60), D(30)]
    assert all(not form.card.row(c).filled for c in ("quantity_1", "social_1"))
    quantity = result.scheme.indicator("quantity_1")
    assert (
        quantity.target.op == "="
        and quantity.target.value == D(100)
        and quantity.target.unit == "%"
    )


def test_suixi_shortfall_and_breached_ceiling_flagged() -> None:
    (form,) = checks("suixi_linshi_jiuzhu_2019_quannian_shijizhi.txt")
    card = form.card
    shortfall = card.row("quantity_4")
    assert shortfall.weight == D(5) and shortfall.score == D("4.84")
    ceiling = card.row("quality_3")
    assert ceiling.weight == D(10) and ceiling.score == D("9.09")
    for code, published, computed in (("quantity_4", "5", "4.84"), ("quality_3", "10", "9.09")):
        flag = next(f for f in form.row_flags[code] if f.code == "published_above_formula")
        assert published in flag.message and computed in flag.message
    assert form.result.scheme.indicator("quality_3").rule.kind == "reverse"
    assert form.result.incomplete and form.grade is None
    assert any("总分" in r for r in form.result.incomplete_reasons)
    # the 其中 row repeats the budget 分值 and 得分: counted once, and said so
    assert card.row("budget_execution").score == D("10.00")
    assert [r.code for r in card.rows].count("budget_execution") == 1
    assert any("其中" in p.message and "只计一次" in p.message for p in form.result.problems)


def test_lijiang_split_columns_every_met_row_flagged() -> None:
    (form,) = checks("lijiang_weipian_2020_split_columns.txt")
    card = form.card
    for code, weight in (
        ("quantity_1", 10),
        ("quality_1", 20),
        ("timeliness_1", 20),
        ("social_1", 30),
    ):
        row = card.row(code)
        assert row.score == D(weight), code
        assert "published_deduction_when_met" in codes(form, code), code
    assert form.result.scheme.indicator("quantity_1").target.op == "="  # the full-width ﹦
    assert form.result.scheme.indicator("social_1").target.op == ">="
    assert form.result.incomplete and form.grade is None


def run_check(path: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scoring", "check", str(path), "--json"],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "putuo_tiyu_2022_two_forms.txt",
            [("98.62", "98.62", "优", False), (None, "4.52", None, True)],
        ),
        ("huanggang_shuitu_2020_20point.txt", [("99.6", "100.00", "优", False)]),
        ("qingshen_gongzi_2023_sichuan_unfilled.txt", [(None, "10.00", None, True)]),  # budget only
        ("suixi_linshi_jiuzhu_2019_quannian_shijizhi.txt", [(None, "88.93", None, True)]),
        ("lijiang_weipian_2020_split_columns.txt", [(None, "100.00", None, True)]),
    ],
)
def test_check_json_per_form(name: str, expected: list[tuple[Any, ...]]) -> None:
    done = run_check(FORMS / name)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    forms = data.get("forms") or [data]
    assert ("forms" in data) == (len(expected) > 1)
    got = [
        (f["total"]["published"], f["total"]["computed"], f["grade"], f["incomplete"])
        for f in forms
    ]
    assert got == expected
    # the first form's object stays at the top, in the shape it always had
    assert {"scheme", "layout", "total", "grade", "indicators", "flags", "blocking", "problems",
            "header", "incomplete"} <= set(data)  # fmt: skip
