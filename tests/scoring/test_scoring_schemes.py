"""Scheme files: shipped schemes, round trip, JSON/YAML loading, problems in Chinese."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scoring import (
    BUILTIN_SCHEMES,
    SchemeError,
    builtin_scheme,
    load_scheme,
    scheme_from_dict,
    validate_scheme,
)


@pytest.mark.parametrize("key", BUILTIN_SCHEMES)
def test_builtin_schemes_validate_and_round_trip(key: str) -> None:
    scheme = builtin_scheme(key)
    data = scheme.to_dict()
    assert validate_scheme(data) == []
    assert scheme_from_dict(data) == scheme
    assert scheme_from_dict(json.loads(json.dumps(data))) == scheme
    assert sum(i.weight for i in scheme.indicators) == scheme.total == Decimal(100)
    codes = [i.code for i in scheme.indicators]
    assert len(codes) == len(set(codes))


def test_builtin_contents() -> None:
    assert BUILTIN_SCHEMES == ("jiangsu-2022", "central")
    jiangsu = builtin_scheme("jiangsu-2022")
    assert jiangsu.title == "省级项目支出绩效自我评价表"
    assert len(jiangsu.indicators) == 30
    assert jiangsu.indicator("budget_execution_rate").weight == Decimal(3)
    assert [g.weight for g in jiangsu.groups if len(g.path) == 1] == [
        Decimal(w) for w in (12, 18, 30, 30, 10)
    ]
    assert (("效益", "生态效益")) in [g.path for g in jiangsu.groups]
    central = builtin_scheme("central")
    assert central.indicator("budget_execution").weight == Decimal(10)
    blocks = {g.path[0]: g.weight for g in central.groups if len(g.path) == 1}
    assert blocks == {"预算执行": 10, "产出指标": 50, "效益指标": 30, "满意度指标": 10}
    with pytest.raises(KeyError):
        builtin_scheme("sichuan")


def _data() -> dict[str, Any]:
    return copy.deepcopy(builtin_scheme("central").to_dict())


def _leaf(data: dict[str, Any], code: str) -> dict[str, Any]:
    for top in data["tree"]:
        for sub in top["children"]:
            for leaf in sub["indicators"]:
                if leaf["code"] == code:
                    return leaf  # type: ignore[no-any-return]
    raise KeyError(code)


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (lambda d: _leaf(d, "quantity_1").update(weight="12"), ["产出指标", "weight", "total"]),
        (lambda d: _leaf(d, "quantity_1").update(weight="abc"), ["quantity_1", "weight"]),
        (lambda d: _leaf(d, "quality_1").update(code="quantity_1"), ["quantity_1", "code", "重复"]),
        (lambda d: _leaf(d, "quality_1").update(code="质量 1"), ["质量 1", "code"]),
        (lambda d: _leaf(d, "quality_1")["rule"].update(kind="magic"), ["quality_1", "kind"]),
        (lambda d: _leaf(d, "quality_1").update(target=None), ["quality_1", "target"]),
        (lambda d: _leaf(d, "quality_1").pop("weight"), ["quality_1", "weight"]),
        (lambda d: _leaf(d, "quality_1").update(colour="red"), ["quality_1", "colour"]),
        (
            lambda d: _leaf(d, "social_1")["rule"].update(
                kind="checklist", points=["a", "b"], shares=["0.5", "0.4"]
            ),
            ["social_1", "rule.shares"],
        ),
        (
            lambda d: _leaf(d, "social_1")["rule"].update(kind="checklist"),
            ["social_1", "rule.points"],
        ),
        (lambda d: d.update(na_policy="ignore"), ["na_policy"]),
    ],
)
def test_problems_name_indicator_and_field(mutate: Any, needles: list[str]) -> None:
    data = _data()
    mutate(data)
    problems = validate_scheme(data)
    assert problems
    text = "\n".join(problems)
    for needle in needles:
        assert needle in text, text
    with pytest.raises(SchemeError) as info:
        scheme_from_dict(data)
    assert info.value.problems == problems


def test_validate_non_mapping() -> None:
    assert validate_scheme([1, 2]) and validate_scheme(None)


def test_load_yaml_and_json_with_fraction_shares(tmp_path: Path) -> None:
    yaml_text = """
name: 项目A
version: "2024.2"
title: 项目支出绩效自评表
total: 10
na_policy: exclude
tree:
  - name: 决策
    weight: 10
    children:
      - name: 项目立项
        indicators:
          - code: basis
            name: 立项依据充分性
            weight: 4
            target: 充分
            rule: {kind: checklist, points: [一, 二, 三], shares: [1/3, 1/3, 1/3]}
          - code: cost
            name: 成本
            weight: 6
            target: {op: "<=", value: 90, unit: 万元, text: ≤90万元}
            rule: {kind: reverse, reverse_formula: linear}
"""
    path = tmp_path / "a.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    scheme = load_scheme(path)
    assert scheme.na_policy == "exclude" and scheme.total == Decimal(10)
    assert scheme.indicator("cost").target.value == Decimal(90)
    assert scheme_from_dict(scheme.to_dict()) == scheme
    json_path = tmp_path / "a.json"
    json_path.write_text(json.dumps(scheme.to_dict(), ensure_ascii=False), encoding="utf-8")
    assert load_scheme(json_path) == scheme


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(SchemeError, match="找不到文件"):
        load_scheme(tmp_path / "none.json")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(SchemeError, match="JSON/YAML"):
        load_scheme(bad)
