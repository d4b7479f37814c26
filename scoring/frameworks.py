"""A cycle's evaluation framework (评价框架) and a project's approved targets (绩效目标).

A self-evaluation form is not a scheme of its own: it is the cycle's framework (first-level
indicators and their weights, the indicators every project shares such as the Jiangsu
决策/过程 checklists or the central form's 预算执行率 row, the second-level names allowed under
each first level, the default rule of each kind of target) plus the project's own 产出/效益/
满意度 indicators, approved with its budget.  :func:`compile_scheme` joins the two into the
scheme dictionary the engine scores (:meth:`scoring.model.Scheme.to_dict` form);
:func:`split_scheme` is its inverse, used to turn the shipped schemes into frameworks and
frozen schemes into framework plus targets.

Everything here is plain data and pure functions: no database, no framework.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .model import Rule, Scheme
from .numbers import fmt
from .schemes import SchemeError, builtin_scheme, scheme_from_dict

__all__ = [
    "NATURES",
    "NATURE_SYMBOLS",
    "Framework",
    "Level",
    "ProjectTargets",
    "TargetProblem",
    "TargetRow",
    "assign_codes",
    "builtin_framework",
    "check_targets",
    "compile_scheme",
    "parse_date_target",
    "split_scheme",
    "target_text",
    "targets_from_scheme",
]

# 指标性质: the comparison a target makes.  "date" is a deadline ("2023年12月31日前").
NATURES: tuple[str, ...] = (">=", "<=", "=", "定性", "date")
NATURE_SYMBOLS: Mapping[str, str] = {">=": "≥", "<=": "≤", "=": "=", "定性": "定性", "date": "日期"}
_QUANTITATIVE = frozenset({">=", "<=", "="})

# The rule a target gets when its row names none.  A deadline is judged by the unit and the
# reviewer in tiers (按期/延期) until the engine scores dates itself.
DEFAULT_RULES: Mapping[str, Mapping[str, Any]] = {
    ">=": {"kind": "forward"},
    "<=": {"kind": "reverse"},
    "=": {"kind": "equal"},
    "定性": {"kind": "tier"},
    "date": {"kind": "tier"},
}

# Second-level names as printed on the forms of different provinces mean the same group.
_LEVEL2_ALIASES: Mapping[str, str] = {"进度指标": "时效指标"}

# Code prefixes of a project's indicators by second-level name (the shipped schemes' codes).
_CODE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("数量", "quantity"),
    ("质量", "quality"),
    ("时效", "timeliness"),
    ("进度", "timeliness"),
    ("成本", "cost"),
    ("经济", "economic"),
    ("社会", "social"),
    ("生态", "ecological"),
    ("可持续", "sustainable"),
    ("满意", "satisfaction"),
)
_SETTINGS = (
    "title",
    "layout",
    "description",
    "total",
    "na_policy",
    "over_threshold",
    "over_zero_target",
    "tier_default",
)


def _canonical_level2(name: str) -> str:
    """ "经济效益" and "经济效益指标" name the same group; "进度指标" is "时效指标"."""
    text = _LEVEL2_ALIASES.get(name.strip(), name.strip())
    return text[:-2] if text.endswith("指标") and len(text) > 2 else text


def _rule_dict(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule in the one normal form the engine's snapshot uses (defaults filled in)."""
    shares = [Decimal(str(share)) for share in rule.get("shares", [])]
    reason = rule.get("reason_below")
    return Rule(
        kind=str(rule["kind"]),
        points=[str(point) for point in rule.get("points", [])],
        shares=shares,
        reverse_formula=str(rule.get("reverse_formula", "ratio")),
        numerator_label=str(rule.get("numerator_label", "")),
        denominator_label=str(rule.get("denominator_label", "")),
        reason_below=None if reason is None else Decimal(str(reason)),
    ).to_dict()


@dataclass(frozen=True, slots=True)
class Level:
    """A first-level indicator (一级指标) of the framework.

    ``shared``: its indicators are the framework's own (决策, 过程, 预算执行) and every project
    of the cycle has the same ones; otherwise the project's targets fill it.  ``level2``: the
    second-level groups in printed order, each with its printed weight (usually none).
    ``rules``: per-nature rule overrides for this level (满意度: ≥ scores as satisfaction).
    """

    name: str
    weight: Decimal
    shared: bool = False
    required: bool = True
    level2: tuple[tuple[str, Decimal | None], ...] = ()
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The scheme's level-2 nodes of a shared level, exactly as the engine reads them.
    tree: tuple[Mapping[str, Any], ...] = ()

    def level2_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.level2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": str(self.weight),
            "shared": self.shared,
            "required": self.required,
            "level2": [
                {"name": name, "weight": None if weight is None else str(weight)}
                for name, weight in self.level2
            ],
            "rules": {nature: dict(rule) for nature, rule in self.rules.items()},
            "tree": [dict(node) for node in self.tree],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Level:
        return cls(
            name=str(data["name"]),
            weight=Decimal(str(data["weight"])),
            shared=bool(data.get("shared", False)),
            required=bool(data.get("required", True)),
            level2=tuple(
                (
                    str(item["name"]),
                    None if item.get("weight") is None else Decimal(str(item["weight"])),
                )
                for item in data.get("level2", [])
            ),
            rules={str(k): dict(v) for k, v in data.get("rules", {}).items()},
            tree=tuple(dict(node) for node in data.get("tree", [])),
        )


@dataclass(frozen=True)
class Framework:
    """The part of the form a cycle shares: levels, shared indicators, settings, default rules."""

    name: str
    version: str
    levels: tuple[Level, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    default_rules: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: dict(DEFAULT_RULES)
    )

    @property
    def title(self) -> str:
        return str(self.settings.get("title", ""))

    @property
    def total(self) -> Decimal:
        return Decimal(str(self.settings.get("total", "100")))

    def level(self, name: str) -> Level | None:
        for level in self.levels:
            if level.name == name:
                return level
        return None

    def project_levels(self) -> tuple[Level, ...]:
        return tuple(level for level in self.levels if not level.shared)

    def rule_for(self, level1: str, nature: str) -> dict[str, Any]:
        level = self.level(level1)
        if level is not None and nature in level.rules:
            return _rule_dict(level.rules[nature])
        return _rule_dict(self.default_rules.get(nature, {"kind": "tier"}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "settings": dict(self.settings),
            "default_rules": {nature: dict(rule) for nature, rule in self.default_rules.items()},
            "levels": [level.to_dict() for level in self.levels],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Framework:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            levels=tuple(Level.from_dict(level) for level in data["levels"]),
            settings=dict(data.get("settings", {})),
            default_rules={
                str(k): dict(v) for k, v in data.get("default_rules", DEFAULT_RULES).items()
            },
        )


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One approved indicator of a project (a row of the 绩效目标申报表).

    ``value`` is the 指标值 as typed ("95", "正常", "2023-12-31"), ``unit`` the 度量单位.
    ``text`` keeps the target exactly as printed when it differs from what nature, value and
    unit would print ("100%" for a ≥ target written without its sign).  ``rule`` overrides the
    framework's default for the nature; ``library_id`` names the 指标库 entry the row was
    picked from; ``source`` says where the row came from (typed, library, a file, migration).
    """

    level1: str
    level2: str
    name: str
    nature: str
    value: str
    weight: Decimal
    unit: str = ""
    code: str = ""
    rule: Mapping[str, Any] | None = None
    rule_text: str = ""
    text: str = ""
    library_id: int | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        # Compact: empty optional fields are left out, since every evaluation's targets
        # are stored and the rows should stay small.
        data: dict[str, Any] = {
            "level1": self.level1,
            "level2": self.level2,
            "name": self.name,
            "nature": self.nature,
            "value": self.value,
            "weight": str(self.weight),
        }
        optional = {
            "unit": self.unit,
            "code": self.code,
            "rule": None if self.rule is None else dict(self.rule),
            "rule_text": self.rule_text,
            "text": self.text,
            "library_id": self.library_id,
            "source": self.source,
        }
        data.update({key: value for key, value in optional.items() if value not in (None, "")})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetRow:
        library = data.get("library_id")
        return cls(
            level1=str(data.get("level1", "")),
            level2=str(data.get("level2", "")),
            name=str(data.get("name", "")),
            nature=str(data.get("nature", "")),
            value=str(data.get("value", "")),
            weight=_decimal_or_zero(data.get("weight")),
            unit=str(data.get("unit", "")),
            code=str(data.get("code", "")),
            rule=None if data.get("rule") is None else dict(data["rule"]),
            rule_text=str(data.get("rule_text", "")),
            text=str(data.get("text", "")),
            library_id=None if library in (None, "") else int(library),
            source=str(data.get("source", "")),
        )


def _decimal_or_zero(value: Any) -> Decimal:
    try:
        return Decimal(str(value).strip()) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


@dataclass(frozen=True)
class ProjectTargets:
    """A project's 绩效目标: the 年度总体目标 text and its indicator rows, in printed order."""

    goal: str = ""
    rows: tuple[TargetRow, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"goal": self.goal, "rows": [row.to_dict() for row in self.rows]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjectTargets:
        return cls(
            goal=str(data.get("goal", "")),
            rows=tuple(TargetRow.from_dict(row) for row in data.get("rows", [])),
        )


@dataclass(frozen=True, slots=True)
class TargetProblem:
    """A problem in a project's targets, naming its row (1-based; None for the whole set)."""

    row: int | None
    field: str
    message: str


# --- dates ----------------------------------------------------------------------------------

_DATE_FULL = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*(?:前|之前|以前)?$"
)
_DATE_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*(?:底|末)?\s*(?:前|之前|以前)?$")


def parse_date_target(text: str) -> date | None:
    """A deadline as written ("2023-12-31", "2023年12月31日前", "2023年12月底前") or None.

    A month without a day means its last day.
    """
    value = text.strip()
    match = _DATE_FULL.match(value)
    try:
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
        match = _DATE_MONTH.match(value)
        if match:
            year, month = int(match[1]), int(match[2])
            following = date(year + month // 12, month % 12 + 1, 1)
            return date.fromordinal(following.toordinal() - 1)
    except ValueError:
        return None
    return None


def target_text(row: TargetRow) -> str:
    """The 年度指标值 as the form prints it: "≥95%", "≤30天", "正常", "2023年12月31日前"."""
    if row.text:
        return row.text
    if row.nature in _QUANTITATIVE:
        return f"{NATURE_SYMBOLS[row.nature]}{row.value.strip()}{row.unit.strip()}"
    if row.nature == "date":
        deadline = parse_date_target(row.value)
        if deadline is not None:
            return f"{deadline.year}年{deadline.month}月{deadline.day}日前"
    return row.value.strip()


# --- checks ---------------------------------------------------------------------------------


def _label(index: int, row: TargetRow) -> str:
    name = row.name.strip() or "（未填名称）"
    return f"第{index}行（{name}）"


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _row_problems(framework: Framework, index: int, row: TargetRow) -> list[TargetProblem]:
    label = _label(index, row)
    problems: list[TargetProblem] = []

    def add(field_name: str, message: str) -> None:
        problems.append(TargetProblem(index, field_name, f"{label}：{message}"))

    level = framework.level(row.level1)
    if level is None:
        allowed = "、".join(item.name for item in framework.project_levels())
        add("level1", f"一级指标“{row.level1}”不在本年度评价框架中，可选：{allowed}")
    elif level.shared:
        add("level1", f"“{row.level1}”是评价框架的共用指标，由框架统一设定，不能由项目填报")
    else:
        names = {_canonical_level2(name) for name in level.level2_names()}
        if _canonical_level2(row.level2) not in names:
            allowed = "、".join(level.level2_names())
            add("level2", f"二级指标“{row.level2}”不属于“{row.level1}”，可选：{allowed}")
    if not row.name.strip():
        add("name", "须填写三级指标名称")
    elif len(row.name) > 200:
        add("name", "三级指标名称不能超过200字")
    if row.nature not in NATURES:
        add("nature", f"指标性质“{row.nature}”无效，可选：≥、≤、=、定性、日期")
    elif row.nature in _QUANTITATIVE:
        number = _number(row.value)
        if number is None:
            add("value", f"定量指标的指标值须为数字，“{row.value}”不是数字")
        elif number < 0:
            add("value", f"指标值不能为负数（{row.value}）")
        if not row.unit.strip():
            add("unit", "定量指标须填写度量单位（如 %、个、万元、天）")
    elif row.nature == "date":
        if parse_date_target(row.value) is None:
            add(
                "value",
                f"日期型指标的指标值须为日期（如 2023-12-31 或 2023年12月），“{row.value}”不是日期",
            )
    elif not row.value.strip():
        add("value", "定性指标须填写指标值（如 达成、正常、满意）")
    if row.weight <= 0:
        add("weight", "分值须大于0")
    elif row.weight != row.weight.quantize(Decimal("0.01")):
        add("weight", f"分值最多两位小数（{fmt(row.weight)}）")
    return problems


def check_targets(framework: Framework, targets: ProjectTargets) -> list[TargetProblem]:
    """Every problem of a project's targets against its framework, each naming its row."""
    problems: list[TargetProblem] = []
    for index, row in enumerate(targets.rows, start=1):
        problems.extend(_row_problems(framework, index, row))
    for level in framework.project_levels():
        rows = [row for row in targets.rows if row.level1 == level.name]
        if not rows and level.required:
            problems.append(TargetProblem(None, "level1", f"“{level.name}”至少须有一个三级指标"))
            continue
        total = sum((row.weight for row in rows), Decimal(0))
        if rows and total != level.weight:
            problems.append(
                TargetProblem(
                    None,
                    "weight",
                    f"“{level.name}”各指标分值合计 {fmt(total)}，应为 {fmt(level.weight)}",
                )
            )
    codes = [row.code for row in targets.rows if row.code]
    for code in sorted({code for code in codes if codes.count(code) > 1}):
        problems.append(TargetProblem(None, "code", f"指标编码“{code}”重复"))
    return problems


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
