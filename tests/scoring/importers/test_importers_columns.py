"""Each synonym and layout feature of issue 12 §1 by a test of its own."""

from __future__ import annotations

from decimal import Decimal

import pytest
from importer_files import SIMPLE_FORM as BASE

from scoring import import_form, import_forms
from scoring.importers.columns import header_base, map_header, synonyms
from scoring.importers.compare import FormCheck, check_form

D = Decimal

INDICATOR_HEADER = BASE.splitlines()[9]


def check(text: str) -> FormCheck:
    return check_form(import_form(text))


def assert_base(form: FormCheck) -> None:
    """The base form's numbers: 9 + 40 + 30 + 10 = 89, every published row matching."""
    card = form.card
    assert card.row("budget_execution").score == D("9.00")
    assert card.row("quantity_1").score == D("40.00")
    assert card.row("social_1").score == D("30.00") and card.row("satisfaction_1").score == D(10)
    assert card.total == D("89.00") and form.grade == "良" and not form.blocking
    assert not [f for fs in form.row_flags.values() for f in fs if f.code.startswith("published")]


def test_base_form() -> None:
    form = check(BASE)
    assert_base(form)
    assert form.result.entries["quantity_1"]["reason"] == "报名不足"


def _indicator_spellings(role: str) -> list[str]:
    return [str(w) for w in synonyms()["indicator"]["exact"][role]]


def _replace_header(column: int, spelling: str) -> str:
    cells = INDICATOR_HEADER.split("\t")
    cells[column] = spelling
    return BASE.replace(INDICATOR_HEADER, "\t".join(cells))


@pytest.mark.parametrize("spelling", _indicator_spellings("target"))
def test_target_synonym(spelling: str) -> None:
    form = check(_replace_header(4, spelling))
    assert_base(form)
    assert form.result.scheme.indicator("quantity_1").target.value == D(100)


@pytest.mark.parametrize("spelling", _indicator_spellings("actual"))
def test_actual_synonym(spelling: str) -> None:
    assert_base(check(_replace_header(5, spelling)))


@pytest.mark.parametrize("spelling", _indicator_spellings("weight"))
def test_weight_synonym(spelling: str) -> None:
    assert_base(check(_replace_header(6, spelling)))


@pytest.mark.parametrize("spelling", _indicator_spellings("score"))
def test_score_synonym(spelling: str) -> None:
    form = check(_replace_header(7, spelling))
    assert_base(form)
    assert form.result.published["quantity_1"] == "40"


@pytest.mark.parametrize("spelling", _indicator_spellings("reason"))
def test_reason_synonym(spelling: str) -> None:
    form = check(_replace_header(8, spelling))
    assert form.result.entries["quantity_1"]["reason"] == "报名不足"


@pytest.mark.parametrize("spelling", ["实际完成值(B)", "全年实际值（B）", "实 际 完 成 值"])
def test_bracketed_and_spaced_headers(spelling: str) -> None:
    assert header_base(spelling) in ("实际完成值", "全年实际值")
    assert_base(check(_replace_header(5, spelling)))


SPLIT_HEADER = "绩效指标\t一级指标\t二级指标\t三级指标\t指标性质\t指标值\t度量单位\t实际完成值\t分值\t得分\t偏差原因分析及改进措施"


def _split(op: str, target: str, unit: str, actual: str) -> str:
    lines = BASE.splitlines()
    lines[9] = SPLIT_HEADER
    lines[10] = f"\t产出指标\t数量指标\t培训人次\t{op}\t{target}\t{unit}\t{actual}\t50\t50\t"
    lines[11] = "\t效益指标\t社会效益指标\t受益人数\t≥\t50\t人\t50\t30\t30\t"
    lines[12] = "\t满意度指标\t服务对象满意度指标\t满意度\t≥\t90\t%\t95\t10\t10\t"
    lines[13] = "总分\t\t\t\t\t\t\t\t100\t99\t"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("op", "expected"),
    [("≥", ">="), (">=", ">="), ("≧", ">="), (">", ">"), ("=", "="), ("﹦", "="), ("＝", "="),
     ("≤", "<="), ("<=", "<="), ("≦", "<="), ("<", "<")],
)  # fmt: skip
def test_split_target_operator(op: str, expected: str) -> None:
    result = import_form(_split(op, "100", "人次", "100"))
    target = result.scheme.indicator("quantity_1").target
    assert (target.op, target.value, target.unit) == (expected, D(100), "人次")
    kind = result.scheme.indicator("quantity_1").rule.kind
    assert kind == {"<=": "reverse", "<": "reverse", "=": "equal"}.get(expected, "forward")
    assert check_form(result).card.row("quantity_1").score == D(50)


def test_split_target_ceiling_is_reverse() -> None:
    form = check(_split("≤", "100", "万元", "125"))
    row = form.card.row("quantity_1")
    assert row.score == D("40.00")  # 50 × 100 / 125
    assert "published_above_formula" in [f.code for f in form.row_flags["quantity_1"]]


def test_split_target_qualitative() -> None:
    result = import_form(_split("定性", "优良", "", "达成预期目标"))
    assert result.scheme.indicator("quantity_1").rule.kind == "tier"
    assert check_form(result).card.row("quantity_1").score == D(50)


BUDGETS = {
    "central": ("项目资金（万元）\t\t年初预算数\t全年预算数\t全年执行数\t分值\t执行率\t得分", "\t年度资金总额\t100\t100\t90\t10\t90%\t9"),
    "transfer": ("资金情况(万元)\t\t全年预算数(A)\t全年执行数(B)\t分值\t执行率(B/A)\t得分", "\t年度资金总额:\t100\t90\t10\t90%\t9"),
    "hubei": ("预算执行情况(万元)(10分)\t预算数(A)\t执行数(B)\t执行率(B/A)\t得分(10分*执行率)", "年度财政资金总额\t100\t90\t90%\t9"),
    "sichuan": ("预算执行情况(10分)\t年度预算数(万元)\t年初预算\t调整后预算数\t预算执行数\t预算执行率\t权重\t得分\t原因", "\t总额\t80\t100\t90\t90.00%\t10\t9\t"),
}  # fmt: skip


@pytest.mark.parametrize("variant", sorted(BUDGETS))
def test_budget_block_variant(variant: str) -> None:
    head, total = BUDGETS[variant]
    lines = BASE.splitlines()
    lines[4], lines[5] = head, total
    form = check("\n".join(lines) + "\n")
    assert_base(form)
    assert (
        form.result.header["budget_full"] == "100" and form.result.header["budget_executed"] == "90"
    )
    assert form.result.header["amount_unit"] == "万元"


def test_amounts_in_yuan_with_thousands_separators() -> None:
    text = BASE.replace("项目资金（万元）", "项目资金（元）").replace(
        "\t年度资金总额\t100\t100\t90\t", "\t年度资金总额\t1,000,000.00\t1000000\t900,000\t"
    )
    form = check(text)
    assert form.result.header["amount_unit"] == "元"
    assert form.card.row("budget_execution").score == D("9.00")


def test_breakdown_row_repeating_the_score_counts_once() -> None:
    text = BASE.replace(
        "\t其中：当年财政拨款\t100\t100\t90\t—\t\t",
        "\t其中：当年财政拨款\t100\t100\t90\t10\t90%\t9",
    )
    form = check(text)
    assert_base(form)
    assert any("只计一次" in p.message for p in form.result.problems)


def test_twenty_point_budget_rule() -> None:
    lines = BASE.splitlines()
    lines[4], lines[5] = BUDGETS["hubei"]
    lines[4] = lines[4].replace("10分", "20分")
    lines[5] = "年度财政资金总额\t100\t90\t90%\t18"
    lines[10] = lines[10].replace("\t50\t40\t", "\t40\t32\t")
    lines[13] = "总分\t\t\t\t\t\t100\t90\t"
    form = check("\n".join(lines) + "\n")
    budget = form.card.row("budget_execution")
    assert budget.weight == D(20) and budget.score == D("18.00")  # 20 × 90%
    assert form.card.total == D("90.00") and form.grade == "优"


def test_block_weights_from_labels_and_inferred_weights() -> None:
    text = """2023年度项目绩效自评表
预算执行情况(万元)(20分)\t预算数(A)\t执行数(B)\t执行率(B/A)\t得分(20分*执行率)
年度财政资金总额\t10\t10\t100%\t20
年度绩效目标1(50分)
一级指标\t二级指标\t三级指标\t年初目标值(A)\t实际完成值(B)\t得分
产出指标\t数量指标\t完成监测点\t≥10个\t8个\t16
\t质量指标\t合格率\t100%\t100%\t30
年度绩效目标2(30分)
一级指标\t二级指标\t三级指标\t年初目标值(A)\t实际完成值(B)\t得分
效益指标\t社会效益指标\t受益人数\t≥100人\t100人\t30
总分\t\t\t\t\t96
"""
    form = check(text)
    card = form.card
    # 16 of a row at 8/10 → weight 20; the block's 50 leaves 30 for the met row.
    assert [card.row(c).weight for c in ("quantity_1", "quality_1", "social_1")] == [
        D(20),
        D(30),
        D(30),
    ]
    assert card.total == D("96.00") and "weights_inferred" in [f.code for f in form.flags]
    assert not form.result.block_mismatches


def test_level1_block_label_checked() -> None:
    text = BASE.replace("\t产出指标\t数量指标", "\t产出指标(60分)\t数量指标")
    form = check(text)
    assert any(f.code == "weights_mismatch" and "60" in f.message for f in form.flags)
    assert form.blocking


def test_header_block_label_90_points() -> None:
    text = BASE.replace("绩效指标\t一级指标", "绩效指标(80分)\t一级指标")
    form = check(text)
    mismatch = next(f for f in form.flags if f.code == "block_weights_mismatch")
    assert "80" in mismatch.message and "90" in mismatch.message and form.blocking


def test_header_anywhere_after_notes_and_shifted_right() -> None:
    notes = "说明：本表依据财预〔2020〕10号填写\n\n金额单位：万元\n"
    shifted = "\n".join("\t" + line for line in BASE.splitlines()) + "\n"
    assert_base(check(notes + shifted))


def test_total_row_anywhere_in_the_row() -> None:
    text = BASE.replace("总分\t\t\t\t\t\t100\t89\t", "\t合计\t\t\t\t\t100\t89\t")
    form = check(text)
    assert_base(form)
    assert form.result.published_total == "89" and form.result.declared_total == D(100)


def test_labels_inherited_from_the_row_above() -> None:
    text = BASE.replace(
        "\t效益指标\t社会效益指标\t受益人数\t≥50人\t50人\t30\t30\t",
        "\t\t质量指标\t合格率\t≥90%\t95%\t10\t10\t\n\t效益指标\t社会效益指标\t受益人数\t≥50人\t50人\t20\t20\t",
    ).replace("\t100\t89\t", "\t100\t79\t")
    result = import_form(text)
    assert result.scheme.indicator("quality_1").path == ("产出指标", "质量指标", "合格率")


def test_header_repeated_after_a_page_break() -> None:
    lines = BASE.splitlines()
    lines.insert(11, "")
    lines.insert(12, INDICATOR_HEADER)
    assert_base(check("\n".join(lines) + "\n"))


@pytest.mark.parametrize(
    ("target", "actual", "score"),
    [
        ("2023年12月31日前", "2023年11月20日", "50.00"),
        ("2023年12月", "2023年12月28日", "50.00"),
        ("12月底前", "2023年12月15日", "50.00"),
        ("2023年6月30日前", "2023年7月15日", "0.00"),
        ("2023-12-31", "2023-12-31", "50.00"),
    ],
)
def test_date_targets_compared_as_dates(target: str, actual: str, score: str) -> None:
    text = BASE.replace(
        "\t培训人次\t≥100人次\t80人次\t50\t40\t报名不足",
        f"\t完成时间\t{target}\t{actual}\t50\t{score}\t",
    )
    form = check(text)
    assert form.card.row("quantity_1").score == D(score)
    assert any("按日期比较" in p.message for p in form.result.problems)


@pytest.mark.parametrize("mark", ["/", "—", "／"])
def test_slash_actual_is_not_applicable(mark: str) -> None:
    text = BASE.replace(
        "\t受益人数\t≥50人\t50人\t30\t30\t", f"\t受益人数\t≥50人\t{mark}\t30\t{mark}\t"
    )
    form = check(text)
    row = form.card.row("social_1")
    assert not row.applicable and row.score is None
    assert any(f.code == "na_marker" for f in form.row_flags["social_1"])
    assert any(f.code == "na_rescaled" for f in form.flags)
    assert not form.result.incomplete


def test_map_header_reads_data_not_code() -> None:
    roles = map_header(SPLIT_HEADER.split("\t"), "indicator")
    assert {k: roles[k] for k in ("op", "target", "unit", "actual", "weight")} == {
        "op": 4,
        "target": 5,
        "unit": 6,
        "actual": 7,
        "weight": 8,
    }


def test_several_forms_never_merged() -> None:
    forms = import_forms(BASE + "\n" + BASE.replace("测试项目", "第二个项目"))
    assert [f.header["project"] for f in forms] == ["测试项目", "第二个项目"]
    assert all(len(f.entries) == 4 for f in forms)


BUDGET_HEADER = BASE.splitlines()[4]


@pytest.mark.parametrize(
    ("role", "column", "spelling"),
    [
        (role, column, str(word))
        for role, column in (
            ("initial", 2),
            ("full", 3),
            ("executed", 4),
            ("weight", 5),
            ("rate", 6),
        )
        for word in synonyms()["budget"]["exact"][role]
    ],
)
def test_budget_header_synonym(role: str, column: int, spelling: str) -> None:
    cells = BUDGET_HEADER.split("\t")
    cells[column] = spelling
    form = check(BASE.replace(BUDGET_HEADER, "\t".join(cells)))
    assert_base(form)
    assert map_header(cells, "budget")[role] == column


@pytest.mark.parametrize(
    ("op", "spelling"),
    [
        (op, str(word))
        for op, words in synonyms()["operators"].items()
        if op != "qualitative"
        for word in words
    ],
)
def test_every_operator_spelling_inline_and_split(op: str, spelling: str) -> None:
    inline = import_form(BASE.replace("\t≥100人次\t80人次\t", f"\t{spelling}100人次\t80人次\t"))
    split = import_form(_split(spelling, "100", "人次", "80"))
    for result in (inline, split):
        target = result.scheme.indicator("quantity_1").target
        assert (target.op, target.value, target.unit) == (op, D(100), "人次")


@pytest.mark.parametrize(
    ("label", "kind"),
    [(str(w), "total") for w in synonyms()["budget_rows"]["total"]]
    + [
        ("其中：" + str(w), key)
        for key, words in synonyms()["budget_rows"]["breakdown"].items()
        for w in words
    ],
)
def test_budget_row_labels(label: str, kind: str) -> None:
    from scoring.importers.columns import budget_row_kind

    assert budget_row_kind(label) == kind
