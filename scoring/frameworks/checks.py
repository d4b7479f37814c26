"""A project's targets checked against its framework; deadlines read as dates."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from ..numbers import fmt
from .data import (
    _QUANTITATIVE,
    NATURE_SYMBOLS,
    NATURES,
    Framework,
    ProjectTargets,
    TargetProblem,
    TargetRow,
    _canonical_level2,
)

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
