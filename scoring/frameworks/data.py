"""The framework and a project's targets as plain data: first levels, target rows, problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..model import Rule

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
