"""What every rule module shares: the row result, flags, the compiled plan of an indicator,
reading an entry, rounding and the reason rule, the band a tier gives and its score.

Rule functions run inside :func:`scoring.engine.score`, which makes ``CTX`` the current
decimal context once per form, so their Decimal operators compute exactly what ``CTX``'s
methods would, at a fraction of the cost (a Context method parses its arguments).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any, NamedTuple

from ..model import Rule
from ..numbers import Q2, InputError, fmt, fmt2, fmt_pct, parse_decimal, top_below

__all__ = [
    "REASON_MESSAGE",
    "Band",
    "Entry",
    "Explain",
    "Flag",
    "Plan",
    "RowScore",
    "band",
    "band_score",
    "finish",
    "missing_row",
    "reason_flag",
    "reason_flags",
    "text",
    "unfilled_row",
]

Entry = Mapping[str, Any]
REASON_MESSAGE = "须填写偏差原因分析及改进措施"


class Flag(NamedTuple):
    """Something a person should look at.  ``blocking`` flags stop submission."""

    code: str
    message: str
    blocking: bool
    indicator: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "blocking": self.blocking,
            "indicator": self.indicator,
        }


# An explanation is kept as a string or as a function that builds it: formatting Decimals
# into Chinese sentences is most of the cost of a row, and a bulk re-score never reads them.
Explain = str | Callable[[], str]


class RowScore(NamedTuple):
    """One indicator's result.  ``score`` is None when not applicable or not filled.

    A NamedTuple rather than a dataclass because a province re-score builds millions of
    them and tuple construction is several times cheaper; it is immutable all the same.
    """

    code: str
    path: tuple[str, str, str]
    weight: Decimal
    score: Decimal | None
    applicable: bool
    filled: bool
    inputs: dict[str, Any]
    explain: Explain
    flags: list[Flag]
    needs_reason: bool
    tier: str | None = None

    @property
    def explanation(self) -> str:
        """The formula with its numbers, in Chinese (built on first read)."""
        explain = self.explain
        return explain if isinstance(explain, str) else explain()

    def __eq__(self, other: object) -> bool:
        # Compare what a row means, not the identity of its explanation builder.
        if not isinstance(other, RowScore):
            return NotImplemented
        return (
            self[:7] == other[:7]
            and self[8:] == other[8:]
            and self.explanation == other.explanation
        )

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "path": list(self.path),
            "weight": str(self.weight),
            "score": None if self.score is None else str(self.score),
            "applicable": self.applicable,
            "filled": self.filled,
            "inputs": {k: _jsonable(v) for k, v in self.inputs.items()},
            "explanation": self.explanation,
            "flags": [f.to_dict() for f in self.flags],
            "needs_reason": self.needs_reason,
            "tier": self.tier,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class Band(NamedTuple):
    """A band of an indicator's weight, [low, high] or [low, high), and its top score: the
    score used when none is typed (the largest 2-place score below an open upper bound)."""

    low: Decimal
    high: Decimal
    inclusive: bool
    top: Decimal


def band(low: Decimal, high: Decimal, inclusive: bool) -> Band:
    top = high if inclusive else max(low, top_below(high))
    return tuple.__new__(Band, (low, high, inclusive, top))


@dataclass(frozen=True, slots=True)
class Plan:
    """One indicator compiled once per scheme: its parsed target and its bands."""

    code: str
    path: tuple[str, str, str]
    weight: Decimal
    kind: str
    rule: Rule
    target: Decimal | None  # the target's number; None for a text target ("正常")
    target_unit: str
    target_text: str
    over_at: Decimal | None  # actual at or above which over-achievement is flagged
    bands: Mapping[str, Band]  # tier -> its band of this weight
    # checklist: per point, tier -> (share × the tier's low, share × its high, high inclusive)
    point_parts: tuple[Mapping[str, tuple[Decimal, Decimal, bool]], ...]
    manual: bool  # the scheme's tier_default is "manual": a band needs a typed score
    num_label: str  # ratio / budget: the amounts' names in explanations and messages
    den_label: str
    score_row: Callable[[Plan, Entry], RowScore]
    # The reason_required flag, blocking and (for an imported form) not: immutable, shared.
    reason_flags: tuple[Flag, Flag]


def text(entry: Entry, key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if value.__class__ is str:
        return value.strip()
    return str(value).strip()


# RowScore's generated __new__ is a Python function; building the tuple directly skips it
# (a province re-score builds millions of rows).
_new = tuple.__new__


def unfilled_row(
    plan: Plan,
    inputs: dict[str, Any],
    explanation: Explain,
    flags: list[Flag],
    tier: str | None = None,
) -> RowScore:
    """An applicable row without a score (what was typed cannot be scored)."""
    return _new(RowScore, (plan.code, plan.path, plan.weight, None, True, False, inputs,
                           explanation, flags, False, tier))  # fmt: skip


def missing_row(plan: Plan, message: str, inputs: dict[str, Any], flags: list[Flag]) -> RowScore:
    flags.append(Flag("missing_input", message, True, plan.code))
    return unfilled_row(plan, inputs, "未填写：" + message, flags)


def reason_flag(plan: Plan, entry: Entry) -> Flag:
    # A published (imported) form must stay readable as printed: the flag does not block.
    return plan.reason_flags[1] if entry.get("imported") else plan.reason_flags[0]


def reason_flags(code: str) -> tuple[Flag, Flag]:
    """A plan's reason_required flags: (blocking, for an imported form not blocking)."""
    return (Flag("reason_required", REASON_MESSAGE, True, code),
            Flag("reason_required", REASON_MESSAGE, False, code))  # fmt: skip


def finish(
    plan: Plan,
    entry: Entry,
    value: Decimal,
    inputs: dict[str, Any],
    explanation: Explain,
    flags: list[Flag],
    needs_reason: bool,
    tier: str | None = None,
) -> RowScore:
    """Round (ROUND_HALF_UP, 2 places), apply the reason rule, build the row.

    A row short of full marks needs a 偏差原因分析及改进措施, as does one the rule marked.
    """
    weight = plan.weight
    result = value.quantize(Q2, ROUND_HALF_UP)
    if result < weight:
        needs_reason = True
    if needs_reason:
        reason = entry.get("reason")
        # A reason of 0 is the text "0": only None and blank text count as missing.
        if reason is None or not (
            reason.strip() if reason.__class__ is str else str(reason).strip()
        ):
            flags.append(reason_flag(plan, entry))
    return _new(RowScore, (plan.code, plan.path, weight, result, True, True, inputs,
                           explanation, flags, needs_reason, tier))  # fmt: skip


def band_text(low: Decimal, high: Decimal, inclusive: bool) -> str:
    return f"得分区间 [{fmt2(low)}, {fmt2(high)}{']' if inclusive else ')'}"


def _explain_band(
    low: Decimal, high: Decimal, inclusive: bool, how: str, value: Decimal, weight: Decimal
) -> str:
    band = band_text(low, high, inclusive)
    if how == "default":
        return f"{band}，取区间上限{'' if inclusive else '以下最高分'} {fmt2(value)}"
    if how == "manual":
        return f"{band}，填报得分 {fmt2(value)}"
    return f"{band}，填报得分 {fmt(value)} 超过分值，按 {fmt(weight)} 计"


def band_score(
    plan: Plan, entry: Entry, edges: Band, label: str, flags: list[Flag]
) -> tuple[Decimal | None, Callable[[], str]]:
    """The score inside [low, high] / [low, high): the typed one, else the band's top.

    Returns (score or None, explanation builder); without a score the explanation is the
    band alone.  Without a typed score the top of the band is used (the largest 2-place
    score below an open upper bound), unless the scheme asks for a manual score.
    """
    low, high, inclusive, top = edges
    manual_text = entry.get("score")
    if manual_text:
        try:
            manual = parse_decimal(str(manual_text))
        except InputError as exc:
            flags.append(Flag("invalid_number", f"得分：{exc}", True, plan.code))
            return None, partial(band_text, low, high, inclusive)
        weight = plan.weight
        if manual > weight:
            flags.append(
                Flag(
                    "score_above_weight",
                    f"得分 {fmt(manual)} 超过分值 {fmt(weight)}",
                    True,
                    plan.code,
                )
            )
            return weight, partial(_explain_band, low, high, inclusive, "above", manual, weight)
        inside = low <= manual and (manual <= high if inclusive else manual < high)
        if not inside:
            share = fmt_pct(manual / weight) if weight else "-"
            message = (
                f"得分 {fmt(manual)} 占分值 {share}，不在“{label}”对应区间 "
                f"{band_text(low, high, inclusive)[5:]} 内"
            )
            if entry.get("imported"):
                flags.append(Flag("label_score_mismatch", message, False, plan.code))
            else:
                flags.append(Flag("score_outside_band", message, True, plan.code))
        return manual, partial(_explain_band, low, high, inclusive, "manual", manual, weight)
    if plan.manual:
        return None, partial(band_text, low, high, inclusive)
    return top, partial(_explain_band, low, high, inclusive, "default", top, plan.weight)
