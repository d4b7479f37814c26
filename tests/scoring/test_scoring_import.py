"""Importers on the shipped samples and on the edge cases of domain-rules.md §8."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scoring import (
    FormReadError,
    builtin_scheme,
    import_form,
    scheme_from_dict,
    score,
    validate_scheme,
)

D = Decimal


def test_seed_totals_and_grade(seed_import: Any) -> None:
    result = seed_import
    assert result.layout == "jiangsu"
    card = score(result.scheme, result.entries)
    assert result.published_total == "98.5"
    assert result.published_grade == "优"
    assert card.total == D("98.50") and str(card.total) == "98.50"
    assert card.grade == "优"
    assert not card.blocking
    assert validate_scheme(result.scheme.to_dict()) == []
    assert scheme_from_dict(result.scheme.to_dict()) == result.scheme


def test_seed_every_published_row_matches(seed_import: Any) -> None:
    card = score(seed_import.scheme, seed_import.entries)
    scored = [row for row in card.rows if row.applicable]
    assert len(scored) == 30
    for row in scored:
        assert row.score == D(seed_import.published[row.code]), row.path


def test_seed_budget_execution_band_flag(seed_import: Any) -> None:
    card = score(seed_import.scheme, seed_import.entries)
    row = card.row("budget_execution_rate")
    assert row.path == ("过程", "资金管理", "预算执行率")
    assert row.score == D("1.50") and row.tier == "部分达成"
    mismatch = [f for f in row.flags if f.code == "label_score_mismatch"]
    assert len(mismatch) == 1 and not mismatch[0].blocking
    assert "部分达成" in mismatch[0].message
    assert {"target_not_numeric", "tier_label_on_quantitative"} <= {f.code for f in row.flags}
    assert any("抄写错误" in p.message and p.row == 20 for p in seed_import.problems)


def test_seed_blank_rows_are_na_without_weight(seed_import: Any) -> None:
    card = score(seed_import.scheme, seed_import.entries)
    for code, name in (("ecological_1", "生态效益"), ("sustainable_1", "可持续影响")):
        row = card.row(code)
        assert row.path[1] == name
        assert row.score is None and not row.applicable and row.weight == 0
        assert not row.flags
    assert seed_import.scheme.total == D(100)
    assert card.applicable_weight == D(100)
    assert not any(f.code in ("na_rescaled", "weights_mismatch") for f in card.flags)


def test_seed_shifted_rows_and_quoted_cell(seed_import: Any) -> None:
    scheme = seed_import.scheme
    cost = [i for i in scheme.indicators if i.path[1] == "成本指标"]
    assert [i.name for i in cost] == ["集约化建设，节省财政支出", "统一运维，节省运维成本"]
    assert all(i.path[0] == "产出" and i.weight == 3 for i in cost)
    satisfaction = [i for i in scheme.indicators if i.path[0] == "满意度"]
    assert [i.name for i in satisfaction][-2:] == [
        "全省视频会议系统省级平台用户满意度",
        "网络运行保障服务能力",
    ]
    assert {p.row for p in seed_import.problems if "左移" in p.message} == {36, 37, 46, 47}
    quoted = scheme.indicator("goal_clarity")
    assert quoted.rule.kind == "checklist" and len(quoted.rule.points) == 3
    assert not quoted.rule_text.startswith("“")
    # the original cell is kept as it was, quotes included
    assert seed_import.cells[15][5].startswith("“评价要点")


def test_seed_header_and_narratives(seed_import: Any) -> None:
    header = seed_import.header
    assert header["year"] == "2022"
    assert header["unit"] == "江苏省政务服务管理办公室（机关）"
    assert header["project"] == "政务服务信息系统建设维护和迭代升级"
    assert header["summary"].startswith("主要用于江苏政务服务平台")
    achievements = seed_import.narratives["主要成效"]
    assert "<p>" not in achievements and achievements.count("\n") >= 5
    assert seed_import.narratives["主要成效_original"].startswith("<p>")
    assert seed_import.narratives["存在问题"] == "无。"


def test_seed_checklist_shares(seed_import: Any) -> None:
    scheme = seed_import.scheme
    assert len(scheme.indicator("decision_basis").rule.shares) == 5
    assert scheme.indicator("decision_basis").rule.shares[0] == D("0.2")
    thirds = scheme.indicator("decision_procedure").rule.shares
    assert len(thirds) == 3 and abs(sum(thirds) - 1) < D("1e-9")


def test_seed_codes_match_builtin_jiangsu(seed_import: Any) -> None:
    builtin = builtin_scheme("jiangsu-2022")
    imported_codes = {i.code for i in seed_import.scheme.indicators if i.weight}
    assert imported_codes == {i.code for i in builtin.indicators}
    card = score(builtin, seed_import.entries)
    assert card.total == D("98.50")


def test_central_sample(central_path: Path) -> None:
    result = import_form(central_path)
    assert result.layout == "central"
    card = score(result.scheme, result.entries)
    budget = card.row("budget_execution")
    assert budget.score == D("9.00")
    assert budget.explanation.startswith("全年执行数 / 全年预算数 = 45 / 50 = 90.00%")
    assert result.published_total == "95.6" and card.total == D("95.60") and card.grade == "优"
    for row in card.rows:
        if row.applicable:
            assert row.score == D(result.published[row.code]), row.path
    assert result.header["amount_unit"] == "万元"
    assert result.header["budget_full"] == "50.00"
    assert result.header["current_appropriation_executed"] == "36.00"
    assert result.header["goal_expected"].startswith("全年开展")
    produce = [i for i in result.scheme.indicators if i.path[0] == "产出指标"]
    assert len(produce) == 5  # "(50分)" label recovered, "指标2:" placeholder skipped
    assert result.scheme.group_weight(("产出指标",)) == D(50)
    assert result.scheme.indicator("cost_1").rule.kind == "reverse"
    assert result.scheme.indicator("quality_2").rule.kind == "equal"
    assert result.scheme.indicator("satisfaction_1").rule.kind == "satisfaction"
    assert result.scheme.indicator("quantity_1").target.value == D(1000)
    messages = " ".join(p.message for p in result.problems)
    assert "（50分）" in messages and "指标2:" in messages and "……" in messages
    assert result.entries["sustainable_1"]["reason"].startswith("跟踪回访")
    assert not card.row("economic_1").applicable and not card.row("ecological_1").applicable


def test_central_gb18030_and_text_input(central_path: Path, tmp_path: Path) -> None:
    text = central_path.read_text(encoding="utf-8")
    gbk = tmp_path / "form.txt"
    gbk.write_bytes(text.encode("gb18030"))
    assert import_form(gbk).published_total == "95.6"
    assert import_form(text).layout == "central"
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert import_form(bom).published_total == "95.6"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"%PDF-1.7 binary", "PDF"),
        (b"PK\x03\x04zipdata", "Excel"),
        (b"\x00\x01\x02\x03binary\x00", "二进制"),
        (b"\xff\xfe\xfd\xfc" * 10, "编码"),
        ("一些文字\t没有表格\n".encode(), "没有找到指标表"),
        (b"", "没有找到指标表"),
    ],
)
def test_unreadable_inputs(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(FormReadError) as info:
        import_form(path)
    assert needle in info.value.message


def test_missing_file_and_bad_layout(tmp_path: Path) -> None:
    with pytest.raises(FormReadError, match="找不到文件"):
        import_form(tmp_path / "nope.txt")
    with pytest.raises(FormReadError, match="未知的表格样式"):
        import_form("a\tb\n", layout="sichuan")


def test_empty_values_and_unfilled_form() -> None:
    text = "\n".join(
        [
            "项目支出绩效自评表",
            "绩效指标\t一级指标\t二级指标\t三级指标\t年度指标值\t实际完成值\t分值\t得分\t偏差原因分析及改进措施",
            "\t产出指标(60分)\t数量指标\t培训人次\t≥100人次\t\t30\t\t",
            "\t\t质量指标\t合格率\t≥90%\t—\t30\t-\t",
            "\t效益指标（40分）\t社会效益指标\t效果\t明显\t\t40\t32\t",
            "总分\t\t\t\t\t\t100\t\t",
        ]
    )
    result = import_form(text)
    card = score(result.scheme, result.entries)
    assert card.row("quantity_1").score is None and not card.row("quantity_1").filled
    assert card.blocking  # unfilled rows block submission; the import itself still worked
    assert card.row("social_1").score == D("32.00")  # tier inferred from the score's band
    assert any("推定" in p.message for p in result.problems)
    assert result.published_total is None
