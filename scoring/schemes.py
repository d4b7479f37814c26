"""Scheme files: JSON Schema, weight checks, loading, and the two shipped schemes.

A scheme file (JSON or YAML) looks like::

    name: central
    version: "2024.1"
    title: 项目支出绩效自评表
    total: 100
    na_policy: rescale            # or exclude
    tree:
      - name: 产出指标
        weight: 50                # optional printed block weight, checked when given
        children:
          - name: 数量指标
            indicators:
              - code: quantity_1
                name: 指标1
                weight: 10
                target: "≥100%"   # text, or {op, value, unit, text}
                rule: {kind: forward}
                rule_text: 完成值/指标值×分值

Numbers may be written as JSON numbers or strings ("1/3" is accepted for checklist shares).
:func:`validate_scheme` returns every problem in Chinese, each naming the indicator and the
field; :func:`load_scheme` raises :class:`SchemeError` carrying them.

A project-specific scheme is made by copying ``scoring/schemes/central.json`` (or
``jiangsu-2022.json``), renaming the generic rows (指标1, 指标2 ...) to the project's approved
indicators, setting targets, weights and rule kinds, bumping ``name``/``version``, and
checking it with ``python -m scoring validate FILE``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .model import (
    KINDS,
    NA_POLICIES,
    OPS,
    Group,
    Indicator,
    Rule,
    Scheme,
    Target,
    parse_target,
)
from .numbers import CTX, ONE, ZERO, InputError, fmt, parse_decimal

__all__ = [
    "BUILTIN_SCHEMES",
    "SCHEME_JSON_SCHEMA",
    "SchemeError",
    "builtin_scheme",
    "load_scheme",
    "read_scheme_file",
    "scheme_from_dict",
    "validate_scheme",
]

_NUMBER = {"type": ["string", "number"]}
_OPT_NUMBER = {"type": ["string", "number", "null"]}

# The structural contract of a scheme file.  Semantic checks (weights add up, each rule has
# what it needs) follow in _semantic_problems because JSON Schema cannot express them.
SCHEME_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "version", "title", "total", "na_policy", "tree"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "version": {"type": ["string", "number"]},
        "title": {"type": "string"},
        "layout": {"type": "string"},
        "description": {"type": "string"},
        "total": _NUMBER,
        "na_policy": {"enum": list(NA_POLICIES)},
        "over_threshold": _NUMBER,
        "over_zero_target": _NUMBER,
        "tier_default": {"enum": ["top", "manual"]},
        "tree": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "children"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "weight": _OPT_NUMBER,
                    "children": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "indicators"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "weight": _OPT_NUMBER,
                                "indicators": {
                                    "type": "array",
                                    "items": {"$ref": "#/$defs/indicator"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "indicator": {
            "type": "object",
            "required": ["code", "name", "weight", "rule"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"},
                "name": {"type": "string", "minLength": 1},
                "weight": _NUMBER,
                "target": {
                    "oneOf": [
                        {"type": ["string", "null"]},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "op": {"enum": [*OPS, None]},
                                "value": _OPT_NUMBER,
                                "unit": {"type": "string"},
                                "text": {"type": "string"},
                            },
                        },
                    ]
                },
                "rule": {
                    "type": "object",
                    "required": ["kind"],
                    "additionalProperties": False,
                    "properties": {
                        "kind": {"enum": list(KINDS)},
                        "points": {"type": "array", "items": {"type": "string"}},
                        "shares": {"type": "array", "items": _NUMBER},
                        "reverse_formula": {"enum": ["ratio", "linear"]},
                        "numerator_label": {"type": "string"},
                        "denominator_label": {"type": "string"},
                        "reason_below": _OPT_NUMBER,
                    },
                },
                "rule_text": {"type": "string"},
            },
        }
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(SCHEME_JSON_SCHEMA)
_FRACTION = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
# 1/3 + 1/3 + 1/3 is 0.999... in 28 digits; shares only need to add up to this tolerance.
_SHARE_TOLERANCE = Decimal("1e-9")

BUILTIN_SCHEMES: tuple[str, ...] = ("jiangsu-2022", "central")
_BUILTIN_FILES = {"jiangsu-2022": "jiangsu-2022.json", "central": "central.json"}


class SchemeError(ValueError):
    """A scheme file that cannot be used; ``problems`` lists every reason in Chinese."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("；".join(self.problems) if self.problems else "指标体系无效")


def _num(value: Any) -> Decimal:
    """A scheme number (JSON number, numeric string or "a/b" fraction) as Decimal."""
    if isinstance(value, bool):
        raise InputError("不是数值")
    if isinstance(value, int | float):
        # str() first: Decimal(0.1) would carry the binary float's noise into the weights.
        return parse_decimal(str(value), allow_negative=True)
    text = str(value)
    match = _FRACTION.match(text)
    if match:
        denominator = Decimal(match.group(2))
        if denominator == 0:
            raise InputError("分母为 0")
        return CTX.divide(Decimal(match.group(1)), denominator)
    return parse_decimal(text, allow_negative=True)


def _opt_num(value: Any) -> Decimal | None:
    return None if value is None or value == "" else _num(value)


def _where(data: Mapping[str, Any], path: Sequence[Any]) -> str:
    """Name the place of a JSON-Schema error: the indicator (code and name) or the group."""
    node: Any = data
    label = "指标体系"
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, Mapping):
            if "code" in node:
                label = f"指标「{node.get('code', '?')}」（{node.get('name', '')}）"
            elif "children" in node or "indicators" in node:
                label = f"分组「{node.get('name', '?')}」"
    return label


def _schema_problem(data: Mapping[str, Any], error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    fields = [str(step) for step in path if isinstance(step, str)]
    # The field is the last named key; for indicator-level errors that is e.g. "weight".
    field_name = fields[-1] if fields else ""
    owner = _where(data, path[:-1] if path and isinstance(path[-1], str) else path)
    validator = error.validator
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else ""
        return f"{_where(data, path)}：缺少必填字段 {missing}"
    if validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", str(error.message))
        return f"{_where(data, path)}：不认识的字段 {', '.join(extra)}"
    reasons = {
        "type": "类型不正确",
        "enum": f"取值应为 {', '.join(repr(v) for v in error.validator_value)} 之一"
        if isinstance(error.validator_value, list)
        else "取值不在允许范围内",
        "pattern": "只能由字母、数字和下划线组成",
        "minLength": "不能为空",
        "minItems": "不能为空",
        "oneOf": "格式不正确（应为文字或 {op, value, unit, text}）",
    }
    reason = reasons.get(str(validator), str(error.message))
    return f"{owner} 的字段 {field_name or '(根)'}：{reason}"


def _leaf_label(leaf: Mapping[str, Any]) -> str:
    return f"指标「{leaf.get('code', '?')}」（{leaf.get('name', '')}）"


def _semantic_problems(data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    try:
        total = _num(data["total"])
    except InputError as exc:
        return [f"指标体系 的字段 total：{exc}"]
    for key in ("over_threshold", "over_zero_target"):
        if key in data:
            try:
                if _num(data[key]) < 0:
                    problems.append(f"指标体系 的字段 {key}：不能为负数")
            except InputError as exc:
                problems.append(f"指标体系 的字段 {key}：{exc}")
    seen_codes: dict[str, str] = {}
    grand = ZERO
    for top in data["tree"]:
        top_sum = ZERO
        for sub in top["children"]:
            sub_sum = ZERO
            for leaf in sub["indicators"]:
                label = _leaf_label(leaf)
                code = leaf["code"]
                if code in seen_codes:
                    problems.append(f"{label} 的字段 code：与「{seen_codes[code]}」重复")
                seen_codes[code] = leaf["name"]
                try:
                    weight = _num(leaf["weight"])
                except InputError as exc:
                    problems.append(f"{label} 的字段 weight：{exc}")
                    continue
                if weight < 0:
                    problems.append(f"{label} 的字段 weight：不能为负数")
                sub_sum += weight
                problems.extend(_rule_problems(leaf, label))
            sub_weight = _weight_or_problem(sub, f"分组「{top['name']} / {sub['name']}」", problems)
            if sub_weight is not None and sub_weight != sub_sum:
                problems.append(
                    f"分组「{top['name']} / {sub['name']}」的字段 weight：标注 {fmt(sub_weight)} 分，"
                    f"其下三级指标分值合计 {fmt(sub_sum)} 分"
                )
            top_sum += sub_sum
        top_weight = _weight_or_problem(top, f"分组「{top['name']}」", problems)
        if top_weight is not None and top_weight != top_sum:
            problems.append(
                f"分组「{top['name']}」的字段 weight：标注 {fmt(top_weight)} 分，"
                f"其下三级指标分值合计 {fmt(top_sum)} 分"
            )
        grand += top_sum
    if grand != total:
        problems.append(f"指标体系 的字段 total：总分 {fmt(total)}，三级指标分值合计 {fmt(grand)}")
    return problems


def _weight_or_problem(node: Mapping[str, Any], label: str, problems: list[str]) -> Decimal | None:
    try:
        return _opt_num(node.get("weight"))
    except InputError as exc:
        problems.append(f"{label}的字段 weight：{exc}")
        return None


def _rule_problems(leaf: Mapping[str, Any], label: str) -> list[str]:
    problems: list[str] = []
    rule = leaf["rule"]
    kind = rule["kind"]
    if kind == "checklist":
        points = rule.get("points") or []
        shares = rule.get("shares") or []
        if not points:
            problems.append(f"{label} 的字段 rule.points：评价要点清单不能为空")
        if shares:
            if len(shares) != len(points):
                problems.append(
                    f"{label} 的字段 rule.shares：{len(shares)} 个权重对应 {len(points)} 个评价要点"
                )
            try:
                share_sum = sum((_num(s) for s in shares), ZERO)
                if abs(share_sum - ONE) > _SHARE_TOLERANCE:
                    problems.append(f"{label} 的字段 rule.shares：合计应为 100%，实为 {share_sum}")
                if any(_num(s) < 0 for s in shares):
                    problems.append(f"{label} 的字段 rule.shares：不能为负数")
            except InputError as exc:
                problems.append(f"{label} 的字段 rule.shares：{exc}")
    target = leaf.get("target")
    if kind in ("forward", "reverse", "equal", "satisfaction"):
        if target in (None, ""):
            problems.append(f"{label} 的字段 target：{kind} 规则需要年度指标值")
        elif isinstance(target, Mapping) and target.get("value") is not None:
            try:
                if _num(target["value"]) < 0:
                    problems.append(f"{label} 的字段 target.value：不能为负数")
            except InputError as exc:
                problems.append(f"{label} 的字段 target.value：{exc}")
    if rule.get("reason_below") is not None:
        try:
            _num(rule["reason_below"])
        except InputError as exc:
            problems.append(f"{label} 的字段 rule.reason_below：{exc}")
    return problems


def validate_scheme(data: Any) -> list[str]:
    """Every problem of a scheme dict, in Chinese; an empty list means it is valid.

    The same scheme is often validated several times in a row (an imported form's scheme is
    compiled, stored and compiled again): the answer is kept per JSON text."""
    if not isinstance(data, Mapping):
        return ["指标体系：文件内容应为一个对象（JSON object / YAML mapping）"]
    try:
        text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return _validate_now(data)
    return list(_validate_text(text))


@functools.lru_cache(maxsize=256)
def _validate_text(text: str) -> tuple[str, ...]:
    return tuple(_validate_now(json.loads(text)))


def _validate_now(data: Mapping[str, Any]) -> list[str]:
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        return [_schema_problem(data, error) for error in errors]
    return _semantic_problems(data)


def _target_from(value: Any) -> Target:
    if value is None:
        return Target()
    if isinstance(value, str):
        return parse_target(value)
    op = value.get("op")
    number = _opt_num(value.get("value"))
    return Target(op=op, value=number, unit=value.get("unit", ""), text=value.get("text", ""))


def _rule_from(value: Mapping[str, Any]) -> Rule:
    points = [str(p) for p in value.get("points") or []]
    shares = [_num(s) for s in value.get("shares") or []]
    if value["kind"] == "checklist" and not shares and points:
        # Equal shares when the file leaves them out: "各占1/3权重" is the usual case.
        shares = [CTX.divide(ONE, Decimal(len(points)))] * len(points)
    return Rule(
        kind=value["kind"],
        points=points,
        shares=shares,
        reverse_formula=value.get("reverse_formula", "ratio"),
        numerator_label=value.get("numerator_label", ""),
        denominator_label=value.get("denominator_label", ""),
        reason_below=_opt_num(value.get("reason_below")),
    )


def scheme_from_dict(data: Mapping[str, Any]) -> Scheme:
    """Build a :class:`Scheme` from a file's dict or a :meth:`Scheme.to_dict` snapshot.

    Raises :class:`SchemeError` with every problem when the dict is not a valid scheme.
    """
    problems = validate_scheme(data)
    if problems:
        raise SchemeError(problems)
    indicators: list[Indicator] = []
    groups: list[Group] = []
    for top in data["tree"]:
        groups.append(Group((top["name"],), _opt_num(top.get("weight"))))
        for sub in top["children"]:
            groups.append(Group((top["name"], sub["name"]), _opt_num(sub.get("weight"))))
            for leaf in sub["indicators"]:
                indicators.append(
                    Indicator(
                        code=leaf["code"],
                        path=(top["name"], sub["name"], leaf["name"]),
                        weight=_num(leaf["weight"]),
                        target=_target_from(leaf.get("target")),
                        rule=_rule_from(leaf["rule"]),
                        rule_text=leaf.get("rule_text", ""),
                    )
                )
    return Scheme(
        name=data["name"],
        version=str(data["version"]),
        title=data["title"],
        total=_num(data["total"]),
        na_policy=data["na_policy"],
        indicators=indicators,
        over_threshold=_num(data.get("over_threshold", "1.30")),
        over_zero_target=_num(data.get("over_zero_target", "30")),
        tier_default=data.get("tier_default", "top"),
        groups=groups,
        layout=data.get("layout", ""),
        description=data.get("description", ""),
    )


def read_scheme_file(path: str | Path) -> Any:
    """The raw dict of a JSON or YAML scheme file; SchemeError when it cannot be parsed."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SchemeError([f"找不到文件：{file}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemeError([f"无法读取文件 {file}：{exc}"]) from None
    try:
        if file.suffix.lower() == ".json":
            return json.loads(text)
        # YAML is a superset of JSON, so anything else goes through the YAML parser.
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SchemeError([f"文件 {file.name} 不是有效的 JSON/YAML：{exc}"]) from None


def load_scheme(path: str | Path) -> Scheme:
    """Read, validate and build a scheme file (JSON or YAML)."""
    return scheme_from_dict(read_scheme_file(path))


@functools.cache
def builtin_scheme(key: str) -> Scheme:
    """One of the shipped schemes: "jiangsu-2022" or "central".

    Cached: schemes are immutable, and reusing one object keeps its scoring plan warm.
    """
    if key not in _BUILTIN_FILES:
        raise KeyError(f"未知的内置指标体系：{key}（可用：{', '.join(BUILTIN_SCHEMES)}）")
    text = (
        resources.files("scoring")
        .joinpath("schemes", _BUILTIN_FILES[key])
        .read_text(encoding="utf-8")
    )
    return scheme_from_dict(json.loads(text))
