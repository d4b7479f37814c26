"""Parsing of the evaluation pages' forms: what a person typed, and the errors next to each field.

The form has one group of fields per indicator, named ``e-<code>-<field>`` (codes are
HTML-safe by the scoring package's contract). Parsing never throws away what was typed: the
entries keep the raw text, and `errors` maps a field name to its Chinese message, so a page
can be re-rendered exactly as submitted with the messages beside the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from scoring.model import Scheme
from scoring.numbers import InputError, fmt, parse_decimal, q2
from workflow.core.inputs import parse_int
from workflow.evaluations.checks import (
    REASON_MAX,
    STANDARD_LABELS,
    TIER_LABELS,
    field_name,
    row_errors,
    shows_tier,
)
from workflow.evaluations.operations import NARRATIVE_FIELDS, ScoreChange

NARRATIVE_MAX = {
    "main_results": 20000,
    "problems": 5000,
    "measures": 5000,
    "filled_by": 100,
    "phone": 50,
    "unit_head": 100,
}
NARRATIVE_LABELS = {
    "main_results": "主要成效",
    "problems": "存在问题",
    "measures": "整改措施",
    "filled_by": "填报人",
    "phone": "联系电话",
    "unit_head": "单位负责人",
}
EVENT_REASON_MAX = 2000


@dataclass
class EntryForm:
    """The unit's form as submitted: entries by code, narrative texts, version, errors."""

    entries: dict[str, dict[str, Any]]
    narrative: dict[str, str]
    version: int | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def too_long(self) -> bool:
        """A text over its limit: the only error that stops saving a draft."""
        # The narrative and the reasons are checked for length only.
        return any(name in NARRATIVE_FIELDS or name.endswith("-reason") for name in self.errors)


def parse_version(form: Mapping[str, str]) -> int | None:
    raw = (form.get("version") or "").strip()
    return parse_int(raw)


def _same(entry: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    def norm(value: Any) -> Any:
        if isinstance(value, list):
            return [norm(v) for v in value]
        return "" if value is None or value is False else str(value).strip()

    if not stored.get("points") and entry.get("points"):
        # The form shows a whole-item tier on every point: the same rating, not an edit.
        points = entry["points"]
        if len(set(points)) == 1 and points[0] == stored.get("tier"):
            entry = {k: v for k, v in entry.items() if k != "points"}
            entry = {**entry, "tier": stored.get("tier")}
    # The reason is the unit's commentary on the published score, not a change of it.
    keys = (set(entry) | set(stored)) - {"reason"}
    return all(norm(entry.get(k)) == norm(stored.get(k)) for k in keys)


def parse_entry_form(
    form: Mapping[str, str],
    scheme: Scheme,
    current: Mapping[str, Any] | None = None,
) -> EntryForm:
    """Read every indicator's fields; keys not rendered on the page are kept from `current`.

    The field errors are checks.py's, the same that submit applies to the stored draft."""
    current = current or {}
    entries: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for ind in scheme.indicators:
        code = ind.code
        stored: dict[str, Any] = dict(current.get(code) or {})
        imported = bool(stored.pop("imported", False))
        entry: dict[str, Any] = dict(stored)

        def text(name: str, code: str = code) -> str:
            return (form.get(field_name(code, name)) or "").strip()

        entry["na"] = bool(form.get(field_name(code, "na")))
        kind = ind.rule.kind
        if kind == "checklist":
            points = [text(f"p{i}") for i in range(len(ind.rule.points))]
            if any(points):
                entry["points"] = points
            else:
                # Nothing rated: not filled, whatever label an imported copy carried.
                entry.pop("points", None)
                entry["tier"] = ""
                entry["actual"] = ""
        if shows_tier(ind):
            entry["tier"] = text("tier")
        if kind in ("ratio", "budget"):
            for name in ("numerator", "denominator"):
                entry[name] = text(name)
        if kind != "checklist":
            chosen = entry.get("tier") if shows_tier(ind) else None
            entry["actual"] = _actual_following_tier(text("actual"), chosen)
        entry["score"] = text("score")
        entry["reason"] = (form.get(field_name(code, "reason")) or "").strip()
        errors.update(row_errors(ind, entry))
        if imported and _same(entry, stored):
            # An imported (published) row whose score the person did not touch stays as
            # published; once a scored field is edited it is the unit's own entry and every
            # rule applies to it. Writing the 偏差原因分析 the row asks for is not such an edit.
            entry["imported"] = True
        entries[code] = entry
    narrative: dict[str, str] = {}
    for name in NARRATIVE_FIELDS:
        value = (form.get(name) or "").strip()
        narrative[name] = value
        if len(value) > NARRATIVE_MAX[name]:
            errors[name] = f"{NARRATIVE_LABELS[name]}不能超过 {NARRATIVE_MAX[name]} 个字"
    return EntryForm(entries, narrative, parse_version(form), errors)


def _actual_following_tier(actual: str, tier: Any) -> str:
    """A 实际完成值 that is a tier's printed label follows the tier chosen beside it, so the
    form never keeps a stale 「达成预期目标」 next to 部分达成."""
    if tier not in TIER_LABELS or actual not in STANDARD_LABELS or actual == TIER_LABELS[tier]:
        return actual
    return TIER_LABELS[tier]


# --- stage scores (department review, finance confirmation) ---------------------------------


@dataclass
class StageForm:
    """Per-indicator scores and reasons of one stage, as typed, with the field errors."""

    values: dict[str, str]
    reasons: dict[str, str]
    changes: dict[str, ScoreChange]
    version: int | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_stage_form(
    form: Mapping[str, str],
    rows: list[Any],
    base_attr: str,
) -> StageForm:
    """`rows` are IndicatorScore rows; `base_attr` the column the stage starts from.

    An empty score on an applicable row keeps the score of the stage before; a changed score
    needs a reason (the operation checks it again; this puts the message next to the field).
    """
    values: dict[str, str] = {}
    reasons: dict[str, str] = {}
    changes: dict[str, ScoreChange] = {}
    errors: dict[str, str] = {}
    for row in rows:
        if not row.applicable:
            continue
        code = row.code
        raw = (form.get(f"s-{code}") or "").strip()
        reason = (form.get(f"r-{code}") or "").strip()
        values[code] = raw
        reasons[code] = reason
        base: Decimal | None = getattr(row, base_attr)
        if not raw:
            continue
        try:
            score = parse_decimal(raw)
        except InputError as exc:
            errors[f"s-{code}"] = str(exc)
            continue
        if score > row.weight:
            errors[f"s-{code}"] = f"得分 {raw} 超过分值 {fmt(row.weight)}"
            continue
        score = q2(score)
        same = base is not None and score == q2(base)
        if not same and not reason:
            errors[f"r-{code}"] = "调整得分须填写理由"
        if len(reason) > REASON_MAX:
            errors[f"r-{code}"] = f"不能超过 {REASON_MAX} 个字"
        changes[code] = ScoreChange(score, reason if not same else "")
    return StageForm(values, reasons, changes, parse_version(form), errors)


def parse_reason(form: Mapping[str, str]) -> tuple[str, str | None]:
    reason = (form.get("reason") or "").strip()
    if len(reason) > EVENT_REASON_MAX:
        return reason, f"原因不能超过 {EVENT_REASON_MAX} 个字"
    return reason, None
