"""What each typed field of the unit's form must look like before the form can be submitted.

The same checks run on what a person just typed (forms.py puts the message beside the field)
and on what is stored: a draft is saved whatever was typed, so submit checks the stored
entries again (operations.py) and refuses with the same messages. Imports nothing of the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from scoring.engine import NA_MARKS
from scoring.model import QUANTITATIVE_KINDS, TIERS, Indicator, Scheme, tier_from_label
from scoring.numbers import InputError, fmt, parse_decimal, parse_quantity

REASON_MAX = 2000
# The label a unit prints for each tier in the 实际完成值 column.
TIER_LABELS = {
    "达成": "达成预期目标",
    "部分达成": "部分达成并具有一定效果",
    "未达成": "未达成预期目标且效果较差",
}
STANDARD_LABELS = frozenset(TIER_LABELS.values()) | frozenset(TIER_LABELS)
TIER_MESSAGE = "请选择达成 / 部分达成 / 未达成"
# How a field is named in a list of problems away from the field itself.
FIELD_LABELS = {
    "tier": "达成档次",
    "actual": "实际完成值",
    "score": "得分",
    "reason": "偏差原因分析及改进措施",
}


def field_name(code: str, name: str) -> str:
    return f"e-{code}-{name}"


def check_number(raw: str, weight: Decimal | None = None) -> str | None:
    """The Chinese message for a number a person typed, or None when it is acceptable."""
    try:
        value = parse_decimal(raw)
    except InputError as exc:
        return str(exc)
    if weight is not None and value > weight:
        return f"得分 {raw.strip()} 超过分值 {fmt(weight)}"
    return None


def check_actual(raw: str) -> str | None:
    text = raw.strip()
    if not text or text in NA_MARKS or tier_from_label(text) is not None:
        return None
    lowered = text.lower()
    if "nan" in lowered or "inf" in lowered:
        return f"“{text}”不是有效数值"
    parsed = parse_quantity(text)
    if parsed is None:
        return "请填写数值（可带单位，如 95% 或 1,234.5 万元），或达成档次"
    if parsed[1] < 0:
        return f"“{text}”不能为负数"
    return None


def shows_tier(ind: Indicator) -> bool:
    """Whether the row is rated by a tier chosen from a list (not a checklist's points)."""
    kind = ind.rule.kind
    return kind == "tier" or (kind in QUANTITATIVE_KINDS and not ind.target.numeric)


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return "" if value is None else str(value).strip()


def row_errors(ind: Indicator, entry: Mapping[str, Any]) -> dict[str, str]:
    """Field name -> message for one indicator's entry (as parsed from the page or stored)."""
    code, kind = ind.code, ind.rule.kind
    errors: dict[str, str] = {}
    if kind == "checklist":
        points = entry.get("points") or []
        for i, value in enumerate(points):
            if value and str(value) not in TIERS:
                errors[field_name(code, f"p{i}")] = TIER_MESSAGE
    if shows_tier(ind):
        tier = _text(entry, "tier")
        if tier and tier not in TIERS:
            errors[field_name(code, "tier")] = TIER_MESSAGE
    if kind in ("ratio", "budget"):
        for name in ("numerator", "denominator"):
            value = _text(entry, name)
            message = check_number(value) if value else None
            if message:
                errors[field_name(code, name)] = message
    if kind != "checklist":
        message = check_actual(_text(entry, "actual"))
        if message:
            errors[field_name(code, "actual")] = message
    score = _text(entry, "score")
    message = check_number(score, ind.weight) if score else None
    if message:
        errors[field_name(code, "score")] = message
    if len(_text(entry, "reason")) > REASON_MAX:
        errors[field_name(code, "reason")] = f"不能超过 {REASON_MAX} 个字"
    return errors


def entry_errors(scheme: Scheme, entries: Mapping[str, Any]) -> dict[str, str]:
    """Every field error of a form's entries, in the scheme's order."""
    errors: dict[str, str] = {}
    for ind in scheme.indicators:
        errors.update(row_errors(ind, entries.get(ind.code) or {}))
    return errors


def problem_texts(scheme: Scheme, errors: Mapping[str, str]) -> list[str]:
    """The field errors as a list away from the fields: 「预算执行率（得分）：……」."""
    names = {ind.code: ind.path[2] or ind.path[1] for ind in scheme.indicators}
    texts: list[str] = []
    for name, message in errors.items():
        code, _sep, key = name[2:].rpartition("-")
        if code not in names:
            continue
        label = FIELD_LABELS.get(key) or (f"要点{int(key[1:]) + 1}" if key[:1] == "p" else "金额")
        texts.append(f"{names[code]}（{label}）：{message}")
    return texts


def code_of(name: str) -> str:
    """The indicator code in a field name e-<code>-<key> ("" for the narrative's fields)."""
    return name[2:].rpartition("-")[0] if name.startswith("e-") else ""


def unsaid(errors: Mapping[str, str], said: Mapping[str, list[str]]) -> dict[str, str]:
    """The field errors the scoring engine has not already said on their row (`said`: code ->
    its blocking messages), so that a list names each problem once."""
    return {
        name: message
        for name, message in errors.items()
        if not any(message in text for text in said.get(code_of(name), ()))
    }
