"""The framework plus a project's targets compiled into the scheme the engine scores, and the
inverse: a scheme split into framework and targets."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ..model import Scheme
from ..schemes import SchemeError, builtin_scheme, scheme_from_dict
from .checks import _number, target_text
from .data import (
    _CODE_PREFIXES,
    _QUANTITATIVE,
    _SETTINGS,
    Framework,
    Level,
    ProjectTargets,
    TargetRow,
    _canonical_level2,
    _rule_dict,
)

# --- compile and split ----------------------------------------------------------------------


def _code_prefix(level2: str) -> str:
    for word, prefix in _CODE_PREFIXES:
        if word in level2:
            return prefix
    return "indicator"


def _assign_codes(framework: Framework, rows: Sequence[TargetRow]) -> list[TargetRow]:
    """Rows keep their codes; a new row gets the next free ``<prefix>_<n>`` of its group."""
    taken = {row.code for row in rows if row.code}
    for level in framework.levels:
        for node in level.tree:
            taken.update(str(item["code"]) for item in node.get("indicators", []))
    result: list[TargetRow] = []
    for row in rows:
        if not row.code:
            prefix = _code_prefix(row.level2)
            number = 1
            while f"{prefix}_{number}" in taken:
                number += 1
            row = replace(row, code=f"{prefix}_{number}")
            taken.add(row.code)
        result.append(row)
    return result


def assign_codes(framework: Framework, targets: ProjectTargets) -> ProjectTargets:
    """The targets with every row coded (rows keep theirs): a version stores its codes, so
    that an adjustment's rows keep the codes the evaluation's entries are keyed by."""
    return replace(targets, rows=tuple(_assign_codes(framework, targets.rows)))


def _target_dict(row: TargetRow) -> dict[str, Any]:
    text = target_text(row)
    if row.nature in _QUANTITATIVE:
        number = _number(row.value)
        return {
            "op": row.nature,
            "value": None if number is None else str(number),
            "unit": row.unit.strip(),
            "text": text,
        }
    return {"op": None, "value": None, "unit": "", "text": text}


def _indicator_dict(framework: Framework, row: TargetRow) -> dict[str, Any]:
    rule = _rule_dict(row.rule) if row.rule else framework.rule_for(row.level1, row.nature)
    return {
        "code": row.code,
        "name": row.name.strip(),
        "weight": str(row.weight),
        "target": _target_dict(row),
        "rule": rule,
        "rule_text": row.rule_text,
    }


def compile_scheme(framework: Framework, targets: ProjectTargets) -> dict[str, Any]:
    """The scheme the engine scores: the framework's levels filled with the project's rows.

    Returned in the normal form of :meth:`Scheme.to_dict`, so that two compilations of the
    same content give equal dictionaries (and one shared snapshot).  Raises
    :class:`scoring.schemes.SchemeError` when the result is not a valid scheme; call
    :func:`check_targets` first for messages that name the rows.
    """
    rows = _assign_codes(framework, targets.rows)
    tree: list[dict[str, Any]] = []
    for level in framework.levels:
        if level.shared:
            children = [dict(node) for node in level.tree]
        else:
            children = []
            for name, weight in level.level2:
                canonical = _canonical_level2(name)
                children.append(
                    {
                        "name": name,
                        "weight": None if weight is None else str(weight),
                        "indicators": [
                            _indicator_dict(framework, row)
                            for row in rows
                            if row.level1 == level.name
                            and _canonical_level2(row.level2) == canonical
                        ],
                    }
                )
        tree.append({"name": level.name, "weight": str(level.weight), "children": children})
    data: dict[str, Any] = {"name": framework.name, "version": framework.version}
    data.update({key: framework.settings[key] for key in _SETTINGS if key in framework.settings})
    data["tree"] = tree
    return scheme_from_dict(data).to_dict()


def _nature_of(indicator: Mapping[str, Any]) -> str:
    target = indicator.get("target") or {}
    op = target.get("op")
    if op in (">=", ">"):
        return ">="
    if op in ("<=", "<"):
        return "<="
    if op == "=":
        return "="
    kind = indicator["rule"]["kind"]
    if target.get("value") is not None:
        return {"reverse": "<=", "equal": "="}.get(kind, ">=")
    return "定性"


def _row_from_indicator(
    framework: Framework, level1: str, level2: str, indicator: Mapping[str, Any], source: str
) -> TargetRow:
    target = indicator.get("target") or {}
    nature = _nature_of(indicator)
    if nature in _QUANTITATIVE:
        value = "" if target.get("value") is None else str(target["value"])
        unit = str(target.get("unit", ""))
    else:
        value, unit = str(target.get("text", "")), ""
    row = TargetRow(
        level1=level1,
        level2=level2,
        name=str(indicator["name"]),
        nature=nature,
        value=value,
        weight=Decimal(str(indicator["weight"])),
        unit=unit,
        code=str(indicator["code"]),
        rule_text=str(indicator.get("rule_text", "")),
        source=source,
    )
    rule = _rule_dict(indicator["rule"])
    if rule != framework.rule_for(level1, nature):
        row = replace(row, rule=rule)
    if str(target.get("text", "")) != target_text(row):
        row = replace(row, text=str(target.get("text", "")))
    return row


def split_scheme(
    scheme: Mapping[str, Any] | Scheme,
    shared_levels: Collection[str],
    *,
    level_rules: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    source: str = "",
) -> tuple[Framework, ProjectTargets]:
    """A scheme as framework plus targets, so that compiling them gives the scheme back.

    ``shared_levels`` names the first-level indicators that belong to the framework.
    """
    data = scheme.to_dict() if isinstance(scheme, Scheme) else scheme_from_dict(scheme).to_dict()
    rules = level_rules or {}
    levels: list[Level] = []
    for node in data["tree"]:
        if node.get("weight") is None:
            raise SchemeError([f"一级指标“{node['name']}”没有分值，不能作为评价框架"])
        shared = node["name"] in shared_levels
        levels.append(
            Level(
                name=node["name"],
                weight=Decimal(str(node["weight"])),
                shared=shared,
                required=not shared,
                level2=tuple(
                    (child["name"], None if child["weight"] is None else Decimal(child["weight"]))
                    for child in node["children"]
                ),
                rules={k: dict(v) for k, v in rules.get(node["name"], {}).items()},
                tree=tuple(node["children"]) if shared else (),
            )
        )
    framework = Framework(
        name=data["name"],
        version=data["version"],
        levels=tuple(levels),
        settings={key: data[key] for key in _SETTINGS if key in data},
    )
    rows = [
        _row_from_indicator(framework, node["name"], child["name"], indicator, source)
        for node in data["tree"]
        if node["name"] not in shared_levels
        for child in node["children"]
        for indicator in child["indicators"]
    ]
    return framework, ProjectTargets(goal="", rows=tuple(rows))


def targets_from_scheme(
    framework: Framework, scheme: Mapping[str, Any] | Scheme, *, source: str = ""
) -> ProjectTargets:
    """The rows of a scheme (an imported form) under the framework's project levels, as
    targets; the scheme's own shared levels are left to the framework. Unlike
    :func:`split_scheme` it needs no weight on the scheme's first levels (forms often print
    none on 决策 or 过程). A line without points (an empty 二级 group the form prints, such as
    the seed's 生态效益) is no target and is left out."""
    data = scheme.to_dict() if isinstance(scheme, Scheme) else scheme_from_dict(scheme).to_dict()
    names = {level.name for level in framework.project_levels()}
    rows = [
        _row_from_indicator(framework, node["name"], child["name"], indicator, source)
        for node in data["tree"]
        if node["name"] in names
        for child in node["children"]
        for indicator in child["indicators"]
        if Decimal(str(indicator["weight"])) > 0
    ]
    return ProjectTargets(goal="", rows=tuple(rows))


# The shipped frameworks: which first levels each shared scheme keeps for itself.
_BUILTIN: Mapping[str, tuple[tuple[str, ...], Mapping[str, Mapping[str, Mapping[str, Any]]]]] = {
    "jiangsu-2022": (("决策", "过程"), {}),
    "central": (("预算执行",), {"满意度指标": {">=": {"kind": "satisfaction"}}}),
}


def builtin_framework(key: str) -> tuple[Framework, ProjectTargets]:
    """A shipped framework and the targets its scheme file carries (the seed's own rows for
    jiangsu-2022, placeholder rows 指标1、指标2 for central)."""
    if key not in _BUILTIN:
        raise KeyError(key)
    shared, rules = _BUILTIN[key]
    return split_scheme(builtin_scheme(key), shared, level_rules=rules, source="scheme")
