"""Frameworks and a project's targets: compiled into a scheme, split back, checked row by row."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import score
from scoring.frameworks import (
    Framework,
    ProjectTargets,
    TargetRow,
    builtin_framework,
    check_targets,
    compile_scheme,
    parse_date_target,
    split_scheme,
    target_text,
)
from scoring.schemes import builtin_scheme, scheme_from_dict


@pytest.mark.parametrize("key", ["jiangsu-2022", "central"])
def test_a_shipped_scheme_is_its_framework_plus_its_targets(key: str) -> None:
    framework, targets = builtin_framework(key)
    assert compile_scheme(framework, targets) == builtin_scheme(key).to_dict()
    assert check_targets(framework, targets) == []


@pytest.mark.parametrize("key", ["jiangsu-2022", "central"])
def test_framework_and_targets_survive_json(key: str) -> None:
    framework, targets = builtin_framework(key)
    assert Framework.from_dict(framework.to_dict()) == framework
    assert ProjectTargets.from_dict(targets.to_dict()) == targets


def test_the_jiangsu_framework_shares_decision_and_process() -> None:
    framework, targets = builtin_framework("jiangsu-2022")
    shared = [level.name for level in framework.levels if level.shared]
    assert shared == ["决策", "过程"]
    assert [level.weight for level in framework.levels] == [12, 18, 30, 30, 10]
    assert {row.level1 for row in targets.rows} == {"产出", "效益", "满意度"}
    # The seed's own indicators are the project's rows, not the framework's.
    assert "省级AK数据中心安全测评" in {row.name for row in targets.rows}


def test_the_central_framework_shares_the_budget_row() -> None:
    framework, _ = builtin_framework("central")
    budget = framework.levels[0]
    assert budget.shared and budget.name == "预算执行" and budget.weight == 10
    assert budget.tree[0]["indicators"][0]["rule"]["kind"] == "budget"
    assert framework.rule_for("满意度指标", ">=")["kind"] == "satisfaction"
    assert framework.rule_for("产出指标", ">=")["kind"] == "forward"
    assert framework.rule_for("产出指标", "<=")["kind"] == "reverse"
    assert framework.rule_for("产出指标", "=")["kind"] == "equal"
    assert framework.rule_for("产出指标", "定性")["kind"] == "tier"


def _row(**changes: object) -> TargetRow:
    base = TargetRow(
        level1="产出指标",
        level2="数量指标",
        name="培训基层人员",
        nature=">=",
        value="1200",
        unit="人次",
        weight=Decimal(20),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _own_targets() -> ProjectTargets:
    return ProjectTargets(
        goal="完成全年培训任务",
        rows=(
            _row(),
            _row(level2="质量指标", name="培训合格率", value="95", unit="%", weight=Decimal(15)),
            _row(
                level2="时效指标",
                name="完成时间",
                nature="date",
                value="2023-11-30",
                unit="",
                weight=Decimal(5),
            ),
            _row(
                level2="成本指标",
                name="人均培训成本",
                nature="<=",
                value="800",
                unit="元",
                weight=Decimal(10),
            ),
            _row(
                level1="效益指标",
                level2="社会效益指标",
                name="基层服务能力",
                nature="定性",
                value="明显提升",
                unit="",
                weight=Decimal(30),
            ),
            _row(
                level1="满意度指标",
                level2="服务对象满意度指标",
                name="参训人员满意度",
                value="90",
                unit="%",
                weight=Decimal(10),
            ),
        ),
    )


def test_a_project_with_its_own_indicators_compiles_and_scores() -> None:
    framework, _ = builtin_framework("central")
    targets = _own_targets()
    assert check_targets(framework, targets) == []
    scheme = scheme_from_dict(compile_scheme(framework, targets))
    names = [indicator.name for indicator in scheme.indicators]
    assert names == [
        "年度资金总额",
        "培训基层人员",
        "培训合格率",
        "完成时间",
        "人均培训成本",
        "基层服务能力",
        "参训人员满意度",
    ]
    codes = [indicator.code for indicator in scheme.indicators]
    assert codes == [
        "budget_execution",
        "quantity_1",
        "quality_1",
        "timeliness_1",
        "cost_1",
        "social_1",
        "satisfaction_1",
    ]
    assert scheme.indicator("quantity_1").target.value == 1200
    assert scheme.indicator("quantity_1").target.text == "≥1200人次"
    assert scheme.indicator("cost_1").rule.kind == "reverse"
    assert scheme.indicator("satisfaction_1").rule.kind == "satisfaction"
    assert scheme.indicator("timeliness_1").target.text == "2023年11月30日前"
    card = score(
        scheme,
        {
            "budget_execution": {"budget": "100", "spent": "100"},
            "quantity_1": {"actual": "1000人次"},
            "quality_1": {"actual": "96%"},
            "timeliness_1": {"tier": "达成"},
            "cost_1": {"actual": "780元"},
            "social_1": {"tier": "达成"},
            "satisfaction_1": {"actual": "92%"},
        },
    )
    by_code = {row.code: row.score for row in card.rows}
    # 1000 of 1200: 20 × 1000/1200 = 16.67; every other target is met.
    assert by_code["quantity_1"] == Decimal("16.67")
    assert by_code["quality_1"] == Decimal("15.00")
    assert by_code["cost_1"] == Decimal("10.00")


def test_two_projects_of_one_framework_keep_their_own_indicators() -> None:
    framework, placeholder = builtin_framework("central")
    own = compile_scheme(framework, _own_targets())
    other = compile_scheme(framework, placeholder)
    assert own["tree"][0] == other["tree"][0]  # the shared budget row
    assert own["tree"][1] != other["tree"][1]


def test_split_inverts_compile_for_a_project_of_its_own() -> None:
    framework, _ = builtin_framework("central")
    compiled = compile_scheme(framework, _own_targets())
    again_framework, again_targets = split_scheme(
        compiled, ["预算执行"], level_rules={"满意度指标": {">=": {"kind": "satisfaction"}}}
    )
    assert again_framework == framework
    assert compile_scheme(again_framework, again_targets) == compiled


def test_rows_keep_their_codes_and_new_rows_take_the_next_free_one() -> None:
    framework, targets = builtin_framework("jiangsu-2022")
    added = replace(targets.rows[0], code="", name="新增数量指标", weight=Decimal(0))
    rows = (*targets.rows, added)
    scheme = compile_scheme(framework, ProjectTargets(rows=rows))
    codes = [i["code"] for g in scheme["tree"] for c in g["children"] for i in c["indicators"]]
    assert "quantity_3" in codes and len(codes) == len(set(codes))


# --- one test per framework check -----------------------------------------------------------


def _problems(*rows: TargetRow) -> list[str]:
    framework, _ = builtin_framework("central")
    base = list(_own_targets().rows)
    for row in rows:
        base[0] = row
    return [p.message for p in check_targets(framework, ProjectTargets(rows=tuple(base)))]


def test_weights_must_add_up_to_each_first_level() -> None:
    messages = _problems(_row(weight=Decimal(25)))
    assert messages == ["“产出指标”各指标分值合计 55，应为 50"]


def test_second_level_names_must_be_allowed() -> None:
    messages = _problems(_row(level2="效率指标"))
    assert messages == [
        "第1行（培训基层人员）：二级指标“效率指标”不属于“产出指标”，可选：数量指标、质量指标、时效指标、成本指标"
    ]


def test_second_level_names_are_matched_by_meaning() -> None:
    assert _problems(_row(level2="数量")) == []
    assert _problems(_row(level2="进度指标")) == []


def test_a_quantitative_target_is_a_number() -> None:
    messages = _problems(_row(value="九十"))
    assert messages == ["第1行（培训基层人员）：定量指标的指标值须为数字，“九十”不是数字"]


def test_a_quantitative_target_has_a_unit() -> None:
    messages = _problems(_row(unit=" "))
    assert messages == ["第1行（培训基层人员）：定量指标须填写度量单位（如 %、个、万元、天）"]


def test_a_date_target_is_a_date() -> None:
    messages = _problems(_row(nature="date", value="年底", unit=""))
    assert messages == [
        "第1行（培训基层人员）：日期型指标的指标值须为日期（如 2023-12-31 或 2023年12月），“年底”不是日期"
    ]


def test_a_qualitative_target_has_a_value() -> None:
    assert _problems(_row(nature="定性", value="", unit="")) == [
        "第1行（培训基层人员）：定性指标须填写指标值（如 达成、正常、满意）"
    ]


def test_every_required_first_level_has_an_indicator() -> None:
    framework, _ = builtin_framework("central")
    rows = tuple(row for row in _own_targets().rows if row.level1 != "满意度指标")
    messages = [p.message for p in check_targets(framework, ProjectTargets(rows=rows))]
    assert messages == ["“满意度指标”至少须有一个三级指标"]


def test_a_shared_or_unknown_first_level_is_refused() -> None:
    assert _problems(_row(level1="预算执行", level2="预算执行率")) == [
        "第1行（培训基层人员）：“预算执行”是评价框架的共用指标，由框架统一设定，不能由项目填报",
        "“产出指标”各指标分值合计 30，应为 50",
    ]
    assert _problems(_row(level1="产出"))[0] == (
        "第1行（培训基层人员）：一级指标“产出”不在本年度评价框架中，可选：产出指标、效益指标、满意度指标"
    )


def test_weights_are_positive_with_two_decimals_at_most() -> None:
    assert "第1行（培训基层人员）：分值须大于0" in _problems(_row(weight=Decimal(0)))
    assert "第1行（培训基层人员）：分值最多两位小数（19.999）" in _problems(
        _row(weight=Decimal("19.999"))
    )


def test_a_nature_must_be_known_and_a_name_given() -> None:
    assert "第1行（培训基层人员）：指标性质“约”无效，可选：≥、≤、=、定性、日期" in _problems(
        _row(nature="约")
    )
    assert "第1行（（未填名称））：须填写三级指标名称" in _problems(_row(name=" "))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-12-31", date(2023, 12, 31)),
        ("2023/6/30", date(2023, 6, 30)),
        ("2023年12月31日前", date(2023, 12, 31)),
        ("2023年12月", date(2023, 12, 31)),
        ("2024年2月底前", date(2024, 2, 29)),
        ("2023-13-01", None),
        ("12月底前", None),
        ("年底", None),
    ],
)
def test_date_targets(text: str, expected: date | None) -> None:
    assert parse_date_target(text) == expected


def test_target_text_prints_like_the_form() -> None:
    assert target_text(_row(nature="<=", value="30", unit="天")) == "≤30天"
    assert target_text(_row(nature="定性", value="正常", unit="")) == "正常"
    assert target_text(_row(text="100%")) == "100%"


_names = st.text(alphabet="培训合格率数量质量人次", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    some=st.lists(st.integers(min_value=1, max_value=8), min_size=0, max_size=5),
    names=st.lists(_names, min_size=6, max_size=6),
    natures=st.lists(st.sampled_from([">=", "<=", "=", "定性"]), min_size=6, max_size=6),
)
def test_compile_then_split_gives_the_same_rows(
    some: list[int], names: list[str], natures: list[str]
) -> None:
    weights = [*some, 50 - sum(some)]
    framework, placeholder = builtin_framework("central")
    others = tuple(row for row in placeholder.rows if row.level1 != "产出指标")
    level2 = ["数量指标", "质量指标", "时效指标", "成本指标"]
    rows = tuple(
        _row(
            level2=level2[i % 4],
            name=names[i],
            nature=natures[i],
            value="正常" if natures[i] == "定性" else str(10 + i),
            unit="" if natures[i] == "定性" else "个",
            weight=Decimal(weight),
        )
        for i, weight in enumerate(weights)
    )
    targets = ProjectTargets(rows=rows + others)
    compiled = compile_scheme(framework, targets)
    _, again = split_scheme(
        compiled, ["预算执行"], level_rules={"满意度指标": {">=": {"kind": "satisfaction"}}}
    )
    assert compile_scheme(framework, again) == compiled
    # Compiling groups the rows by second level in the framework's order, stably.
    expected = sorted(rows, key=lambda row: level2.index(row.level2))
    assert [(r.level2, r.name, r.nature, r.weight) for r in again.rows[: len(rows)]] == [
        (r.level2, r.name, r.nature, r.weight) for r in expected
    ]
