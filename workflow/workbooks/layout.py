"""What a unit fills per indicator, as the web form has it, in the order the sheet shows it.

The writer lays these out as rows; the reader names a cell's field and its label from the
same list, so the sheet, the upload and the web form never disagree on what an indicator
asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring.model import QUANTITATIVE_KINDS, Indicator, Scheme
from workflow.evaluations.forms import NARRATIVE_LABELS, field_name

NA_MARK = "不适用"


@dataclass(frozen=True)
class Slot:
    """One input of an indicator: its field suffix, its label, and what it holds."""

    key: str  # actual, tier, numerator, denominator, p0, p1, ...
    label: str
    kind: str  # "tier" (drop-down), "number", "text"


def shows_tier(ind: Indicator) -> bool:
    kind = ind.rule.kind
    return kind == "tier" or (kind in QUANTITATIVE_KINDS and not ind.target.numeric)


def amount_label(ind: Indicator, which: str) -> str:
    budget = ind.rule.kind == "budget"
    if which == "numerator":
        return ind.rule.numerator_label or ("全年执行数" if budget else "实际支出")
    return ind.rule.denominator_label or ("全年预算数" if budget else "实际到位")


def slots(ind: Indicator) -> list[Slot]:
    """The row-level inputs of an indicator (score, reason and 不适用 span its whole block)."""
    kind = ind.rule.kind
    found: list[Slot] = []
    if kind == "checklist":
        for i, point in enumerate(ind.rule.points):
            found.append(Slot(f"p{i}", f"评价要点{i + 1}：{point}", "tier"))
    if shows_tier(ind):
        found.append(Slot("tier", "达成档次", "tier"))
    if kind in ("ratio", "budget"):
        for which in ("numerator", "denominator"):
            found.append(Slot(which, amount_label(ind, which), "number"))
    if kind != "checklist":
        unit = f"（{ind.target.unit}）" if ind.target.unit else ""
        numeric = ind.target.numeric and kind in QUANTITATIVE_KINDS
        found.append(Slot("actual", f"实际完成值{unit}", "number" if numeric else "text"))
    return found


BLOCK_LABELS = {"score": "得分", "reason": "偏差原因分析及改进措施", "na": NA_MARK}


def labels(scheme: Scheme) -> dict[str, str]:
    """Field name -> its label, for every field a sheet of this scheme can hold."""
    found: dict[str, str] = {}
    for ind in scheme.indicators:
        for slot in slots(ind):
            found[field_name(ind.code, slot.key)] = slot.label.split("：", 1)[0]
        for key, label in BLOCK_LABELS.items():
            found[field_name(ind.code, key)] = label
    found.update(NARRATIVE_LABELS)
    return found


def number_fields(scheme: Scheme) -> set[str]:
    """The fields whose text must be a number (amounts, a manual score, a numeric actual)."""
    found: set[str] = set()
    for ind in scheme.indicators:
        for slot in slots(ind):
            if slot.kind == "number":
                found.add(field_name(ind.code, slot.key))
        found.add(field_name(ind.code, "score"))
    return found
