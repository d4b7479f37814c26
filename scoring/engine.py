"""Scoring: from a scheme and what a unit entered, every row's score, the total and the grade.

Rules applied (domain-rules.md §2, §6, §8; the defaults are the recommended ones):

- **checklist** (Jiangsu 决策/过程): each 评价要点 is rated 达成 / 部分达成 / 未达成; the item's
  band is weight × Σ share_i × band_i.  A manual score must fall inside it; without one the
  top of the band is used (the largest 2-place score below an open upper bound).
- **tier** (定性): the tier fixes the band [80%,100%], [60%,80%), [0,60%) of the weight.
- **forward** (≥, >): met → full weight; else actual / target × weight.  Over-achievement is
  capped; actual ≥ ``over_threshold`` × target (or ≥ ``over_zero_target`` for a zero target)
  is flagged and needs a reason.  "≥" and ">" are scored alike.
- **equal** (=): a zero target scores full weight when actual ≤ 0, else 0; otherwise forward.
- **reverse** (≤, <): met → full weight; else the rule's formula: "ratio" target / actual ×
  weight, or "linear" weight × (1 − (actual − target) / target), 0 from twice the target.
  A zero target scores full weight when actual ≤ 0, else 0 (never divides by zero).
- **satisfaction**: a percentage scored like forward; above 100% is rejected.
- **ratio** / **budget**: rate = numerator / denominator (实际支出/实际到位, 实际到位/预算,
  全年执行数/全年预算数); score = min(rate, 1) × weight.  A zero denominator makes the row not
  applicable (0/0 "0.00%" included), never a division error.
- Negative actuals count as 0 (flagged).  Rows are rounded ROUND_HALF_UP to 2 places; the
  total is the sum of the rounded rows.
- **Not applicable** rows (entry ``na``, an actual of "/", "—", "-" or "*", a zero
  denominator, a weight of 0) get ``score=None``; the scheme's ``na_policy`` decides the
  total: "rescale" multiplies the sum by total / applicable weight (按百分制折算), "exclude"
  leaves their weight out.  "Not filled" (``filled=False``) is different: it blocks
  submission and counts as 0 in the provisional total.
- Grades are half-open: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 < 60.

Flags.  Blocking (submission must stop): ``missing_input`` (no actual / tier / amounts),
``invalid_number``, ``invalid_tier``, ``score_above_weight``, ``score_outside_band`` (a
manual score outside its tier's band), ``score_above_formula``, ``reason_required`` (a
偏差原因分析及改进措施 is required and empty: row below full weight, over-achievement past the
threshold, 执行率 below the rule's ``reason_below``), ``weights_mismatch``.
Non-blocking: ``label_score_mismatch`` (a published score outside the band its label claims),
``over_achievement``, ``target_not_numeric``, ``tier_label_on_quantitative``,
``negative_actual``, ``unit_mismatch``, ``rate_above_100``, ``zero_denominator``,
``execution_below_threshold``, ``budget_adjusted``, ``deduction_when_met``, ``na_marker``,
``na_rescaled``, ``na_excluded``, ``unknown_entry``.

Imported entries (``"imported": True``, set by :mod:`scoring.importer`) are published,
historic values: the engine still flags them, but ``score_outside_band`` becomes
``label_score_mismatch`` and ``reason_required`` does not block, because a published form
must be readable as it is (domain-rules §8.20).  The web app never sets ``imported``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import partial
from operator import itemgetter
from typing import Any, NamedTuple

from .model import TIERS, Band, Indicator, Scheme, tier_from_label
from .numbers import (
    _PLAIN_QUANTITY,
    CTX,
    HUNDRED,
    ONE,
    Q2,
    ZERO,
    InputError,
    fmt,
    fmt2,
    fmt_pct,
    parse_decimal,
    parse_quantity,
    plain_decimal,
    q2,
    top_below,
)

__all__ = [
    "NA_MARKS",
    "Flag",
    "RowScore",
    "Scorecard",
    "grade_for",
    "score",
    "stage_total",
]

Entry = Mapping[str, Any]
Entries = Mapping[str, Entry]

NA_MARKS = frozenset({"/", "／", "—", "——", "-", "--", "*", "－", "不适用", "N/A", "n/a"})
_EMPTY: Mapping[str, Any] = {}
# Band edges are products of shares like 1/3; trimming to 12 places removes the 28th-digit
# noise that would otherwise push a bound like 1.6 to 1.6000…01.
_EDGE = Decimal("1e-12")
_GRADES = ((Decimal(90), "优"), (Decimal(80), "良"), (Decimal(60), "中"))
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_BLOCKING = itemgetter(2)  # Flag.blocking
# Builds a NamedTuple (RowScore, Flag, ...) from a tuple without its Python-level __new__.
_new = tuple.__new__


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


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The result of :func:`score`: rows in scheme order, total, grade and all flags."""

    scheme_name: str
    scheme_version: str
    rows: list[RowScore]
    total: Decimal
    grade: str
    flags: list[Flag]
    blocking: bool
    raw_sum: Decimal = ZERO
    applicable_weight: Decimal = ZERO

    def row(self, code: str) -> RowScore:
        for item in self.rows:
            if item.code == code:
                return item
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": {"name": self.scheme_name, "version": self.scheme_version},
            "total": str(self.total),
            "grade": self.grade,
            "blocking": self.blocking,
            "raw_sum": str(self.raw_sum),
            "applicable_weight": str(self.applicable_weight),
            "flags": [f.to_dict() for f in self.flags],
            "rows": [r.to_dict() for r in self.rows],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def grade_for(total: Decimal) -> str:
    """优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 < 60 (half-open: 90.00 优, 89.99 良)."""
    for bound, grade in _GRADES:
        if total >= bound:
            return grade
    return "差"


# --------------------------------------------------------------------------------------
# Per-scheme plan


def _no_fast_path(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    return plan.func(plan, entry, options)


def _fast_in_context(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    """The fast path with CTX as the current context, for a call from outside score()."""
    with localcontext(CTX):
        return plan.row(plan, entry, options)


@dataclass(slots=True)
class _Plan:
    """What scoring one indicator needs, computed once per scheme."""

    ind: Indicator
    code: str
    path: tuple[str, str, str]
    weight: Decimal
    kind: str
    func: Callable[[_Plan, Entry, _Options], RowScore]
    target: Decimal | None
    over_at: Decimal | None  # actual at or above which over-achievement is flagged
    # The fast paths' reason_required flag, blocking and not (imported): immutable, so shared.
    reason_flag: Flag
    imported_reason_flag: Flag
    over_below_target: bool = False  # over_at < target (an over_threshold under 1)
    tier_bands: dict[str, tuple[Decimal, Decimal, bool]] = field(default_factory=dict)
    zero_weight: bool = False
    # Fast-path data: the common case of each kind, precomputed once (see _fast_* below).
    # ``row`` is the fast path proper: its Decimal operators use the current context, which
    # score() sets to CTX once per form (Context methods cost twice the operators' time).
    # ``fast`` is the same, callable from anywhere: it sets CTX around ``row``.
    fast: Callable[[_Plan, Entry, _Options], RowScore] = _no_fast_path
    row: Callable[[_Plan, Entry, _Options], RowScore] = _no_fast_path
    met_score: Decimal = ZERO  # the weight rounded to 2 places: the score of a met target
    met_below: bool = False  # met_score < weight: a reason is required even when met
    satisfaction: bool = False
    budget: bool = False
    target_unit: str = ""
    # tier -> (low, high, inclusive, default score, default rounded, default below weight)
    tier_table: dict[str, _BandInfo] = field(default_factory=dict)
    # tier -> the explanation of that tier's default score (a builder, shared by the rows)
    tier_explains: dict[str, Callable[[], str]] = field(default_factory=dict)
    # checklist: per point, tier -> (share × band low, share × band high, high inclusive)
    point_parts: list[dict[str, tuple[Decimal, Decimal, bool]]] = field(default_factory=list)
    # checklist: tuple of point tiers -> band info (filled on first use, bounded)
    point_table: dict[tuple[str | None, ...], _BandInfo] = field(default_factory=dict)
    # checklist: the typed labels (a tuple of str) -> (stripped labels, band info, explanation
    # builder)
    point_labels: dict[tuple[Any, ...], _KnownPoints] = field(default_factory=dict)
    memo_lookups: int = 0  # checklist label memo, for the benchmark's hit rate
    memo_hits: int = 0
    num_label: str = ""
    den_label: str = ""
    reason_below_text: str = ""  # fmt_pct(rule.reason_below), for its flag message
    # A plain number (ASCII digits, one inner dot), alone or followed by ``plain_unit``: the
    # target's unit when parse_quantity would split it there ("87.23万元" -> 87.23, "万元"),
    # else "".  Such a text is the number in the target's unit; anything else goes through
    # parse_quantity.
    plain_unit: str = ""
    mode: int = 0  # _FORWARD, _REVERSE or _EQUAL_ZERO, for _fast_quantity


_FORWARD = 0
_REVERSE = 1
_EQUAL_ZERO = 2


def _plain_unit(unit: str) -> str:
    """``unit`` if parse_quantity splits "<plain number><unit>" into the number and ``unit``.

    _PLAIN_QUANTITY's unit holds no digit, dot or comma, so "1" stands for any plain number.
    """
    if not unit or parse_quantity("1" + unit) != (None, ONE, unit):
        return ""
    plain = _PLAIN_QUANTITY.fullmatch("1" + unit)
    if plain is None or plain.group(2) != unit:
        return ""
    return unit


class _BandInfo(NamedTuple):
    """A band [low, high] / [low, high) and its default (top) score, precomputed."""

    low: Decimal
    high: Decimal
    inclusive: bool
    default: Decimal
    rounded: Decimal  # the default rounded to 2 places, as _finish would
    below: bool  # rounded < weight: a reason is required
    label: str  # tier name, or "各要点档次" for mixed checklist points
    single: str | None  # the row's tier when every point has the same one


_KnownPoints = tuple[tuple[str, ...], _BandInfo, Callable[[], str]]


def _band_info(
    weight: Decimal, low: Decimal, high: Decimal, inclusive: bool, label: str, single: str | None
) -> _BandInfo:
    default = high if inclusive else max(low, top_below(high))
    rounded = default.quantize(Q2, ROUND_HALF_UP)
    return _new(
        _BandInfo, (low, high, inclusive, default, rounded, rounded < weight, label, single)
    )


@dataclass(frozen=True, slots=True)
class _Options:
    tier_default: str
    over_zero_target: Decimal


@dataclass(slots=True)
class _Compiled:
    plans: list[_Plan]
    options: _Options
    full_weight: Decimal
    form_flags: list[Flag]
    codes: frozenset[str]
    # Sum (in plan order, through CTX) of the non-zero weights: the applicable weight of a
    # form where every row is applicable, the common case.
    all_weight: Decimal = ZERO
    # (code, fast path ``row``, plan) per indicator, unpacked by the loop of score().
    steps: list[tuple[str, Callable[[_Plan, Entry, _Options], RowScore], _Plan]] = field(
        default_factory=list
    )


def _compile(scheme: Scheme) -> _Compiled:
    cached = scheme._cache.get("plan")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    options = _Options(scheme.tier_default, scheme.over_zero_target)
    top = options.tier_default != "manual"
    plans: list[_Plan] = []
    for ind in scheme.indicators:
        weight = ind.weight
        target = ind.target.value
        kind = ind.rule.kind
        over_at: Decimal | None = None
        if target is not None:
            over_at = (
                scheme.over_zero_target
                if target == 0
                else CTX.multiply(target, scheme.over_threshold)
            )
        bands = {
            name: (
                CTX.multiply(weight, band.low),
                CTX.multiply(weight, band.high),
                band.high_inclusive,
            )
            for name, band in TIERS.items()
        }
        table = {
            name: _band_info(weight, low, high, inclusive, name, name)
            for name, (low, high, inclusive) in bands.items()
        }
        budget = kind == "budget"
        mode = _FORWARD
        fast: Callable[[_Plan, Entry, _Options], RowScore] | None = None
        if kind in ("forward", "satisfaction") or (kind == "equal" and target != 0):
            fast = _fast_quantity if target is not None else None
            mode = _FORWARD
        elif kind == "equal":
            fast = _fast_quantity
            mode = _EQUAL_ZERO
        elif kind == "reverse":
            fast = _fast_quantity if target is not None else None
            mode = _REVERSE
        elif kind == "tier":
            fast = _fast_tier if top else None
        elif kind == "checklist":
            fast = _fast_checklist if top and ind.rule.points else None
        elif kind in ("ratio", "budget"):
            fast = _fast_ratio
        met_score = weight.quantize(Q2, ROUND_HALF_UP, CTX)
        plans.append(
            _Plan(
                ind=ind,
                code=ind.code,
                path=ind.path,
                weight=weight,
                kind=kind,
                func=_KIND_FUNCS[kind],
                target=target,
                over_at=over_at,
                reason_flag=Flag("reason_required", _REASON_MESSAGE, True, ind.code),
                imported_reason_flag=Flag("reason_required", _REASON_MESSAGE, False, ind.code),
                over_below_target=(target is not None and over_at is not None and over_at < target),
                tier_bands=bands,
                zero_weight=weight == 0,
                fast=_KIND_FUNCS[kind] if fast is None else _fast_in_context,
                row=fast or _KIND_FUNCS[kind],
                met_score=met_score,
                met_below=met_score < weight,
                satisfaction=kind == "satisfaction",
                budget=budget,
                target_unit=ind.target.unit,
                plain_unit=_plain_unit(ind.target.unit),
                reason_below_text=(
                    "" if ind.rule.reason_below is None else fmt_pct(ind.rule.reason_below)
                ),
                mode=mode,
                tier_table=table,
                tier_explains=(
                    {
                        name: partial(_explain_tier_default, name, info)
                        for name, info in table.items()
                    }
                    if fast is _fast_tier
                    else {}
                ),
                point_parts=[
                    {
                        name: (
                            CTX.multiply(share, band.low),
                            CTX.multiply(share, band.high),
                            band.high_inclusive,
                        )
                        for name, band in TIERS.items()
                    }
                    for share in ind.rule.shares
                ],
                num_label=ind.rule.numerator_label or ("全年执行数" if budget else "实际支出"),
                den_label=ind.rule.denominator_label or ("全年预算数" if budget else "实际到位"),
            )
        )
    full = sum((p.weight for p in plans), ZERO)
    all_weight = ZERO
    for plan in plans:
        if not plan.zero_weight:
            all_weight = CTX.add(all_weight, plan.weight)
    form_flags = [
        Flag("weights_mismatch", message, True, None) for message in _weight_messages(scheme, full)
    ]
    compiled = _Compiled(
        plans,
        options,
        full,
        form_flags,
        frozenset(p.code for p in plans),
        all_weight,
        [(p.code, p.row, p) for p in plans],
    )
    scheme._cache["plan"] = compiled
    return compiled


def _weight_messages(scheme: Scheme, full: Decimal) -> list[str]:
    messages: list[str] = []
    if full != scheme.total:
        messages.append(f"三级指标分值合计 {fmt(full)}，与总分 {fmt(scheme.total)} 不一致")
    for group in scheme.groups:
        if group.weight is None:
            continue
        depth = len(group.path)
        inside = sum((i.weight for i in scheme.indicators if i.path[:depth] == group.path), ZERO)
        if inside != group.weight:
            messages.append(
                f"“{' / '.join(group.path)}”标注 {fmt(group.weight)} 分，其下分值合计 {fmt(inside)}"
            )
    return messages


# --------------------------------------------------------------------------------------
# Row helpers


def _text(entry: Entry, key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if value.__class__ is str:
        return value.strip()
    return str(value).strip()


def _na_row(
    plan: _Plan, explanation: Explain, inputs: dict[str, Any], flags: list[Flag]
) -> RowScore:
    return RowScore(
        plan.code, plan.path, plan.weight, None, False, True, inputs, explanation, flags, False
    )


def _missing_row(plan: _Plan, message: str, inputs: dict[str, Any], flags: list[Flag]) -> RowScore:
    flags.append(Flag("missing_input", message, True, plan.code))
    return RowScore(
        plan.code,
        plan.path,
        plan.weight,
        None,
        True,
        False,
        inputs,
        "未填写：" + message,
        flags,
        False,
    )


def _finish(
    plan: _Plan,
    entry: Entry,
    value: Decimal,
    inputs: dict[str, Any],
    explanation: Explain,
    flags: list[Flag],
    needs_reason: bool,
    tier: str | None = None,
) -> RowScore:
    """Round, apply the reason rule, build the row."""
    result = value.quantize(Q2, ROUND_HALF_UP)
    if result < plan.weight:
        needs_reason = True
    if needs_reason and not _text(entry, "reason"):  # only rows short of full marks get here
        imported = bool(entry.get("imported"))
        flags.append(
            Flag(
                "reason_required",
                "须填写偏差原因分析及改进措施",
                not imported,
                plan.code,
            )
        )
    return RowScore(
        plan.code,
        plan.path,
        plan.weight,
        result,
        True,
        True,
        inputs,
        explanation,
        flags,
        needs_reason,
        tier,
    )


def _resolve_tier(entry: Entry) -> tuple[str | None, str]:
    """The tier from "tier", else from a label typed as the actual; returns (tier, source)."""
    raw = _text(entry, "tier")
    if raw:
        return tier_from_label(raw), raw
    actual = _text(entry, "actual")
    if actual:
        return tier_from_label(actual), actual
    return None, ""


def _band_score(
    plan: _Plan,
    entry: Entry,
    low: Decimal,
    high: Decimal,
    inclusive: bool,
    label: str,
    options: _Options,
    flags: list[Flag],
) -> tuple[Decimal | None, Callable[[], str], Callable[[], str]]:
    """Pick the score inside [low, high] / [low, high): the manual one or the default.

    Returns (score, band text builder, explanation builder).
    """
    close = "]" if inclusive else ")"

    def band() -> str:
        return f"得分区间 [{fmt2(low)}, {fmt2(high)}{close}"

    manual_text = entry.get("score")
    if manual_text:
        try:
            manual = parse_decimal(str(manual_text))
        except InputError as exc:
            flags.append(Flag("invalid_number", f"得分：{exc}", True, plan.code))
            return None, band, band
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
            return (
                weight,
                band,
                lambda: f"{band()}，填报得分 {fmt(manual)} 超过分值，按 {fmt(weight)} 计",
            )
        inside = low <= manual and (manual <= high if inclusive else manual < high)
        if not inside:
            share = fmt_pct(CTX.divide(manual, weight)) if weight else "-"
            message = (
                f"得分 {fmt(manual)} 占分值 {share}，不在“{label}”对应区间 "
                f"[{fmt2(low)}, {fmt2(high)}{close} 内"
            )
            if entry.get("imported"):
                flags.append(Flag("label_score_mismatch", message, False, plan.code))
            else:
                flags.append(Flag("score_outside_band", message, True, plan.code))
        return manual, band, lambda: f"{band()}，填报得分 {fmt2(manual)}"
    if options.tier_default == "manual":
        return None, band, band
    default = high if inclusive else max(low, top_below(high))
    return (
        default,
        band,
        lambda: f"{band()}，取区间上限{'' if inclusive else '以下最高分'} {fmt2(default)}",
    )


# --------------------------------------------------------------------------------------
# Kinds


def _score_tier(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    flags: list[Flag] = []
    tier, source = _resolve_tier(entry)
    inputs: dict[str, Any] = {"tier": tier, "label": source}
    return _tier_row(plan, entry, options, tier, source, inputs, flags, "")


def _tier_row(
    plan: _Plan,
    entry: Entry,
    options: _Options,
    tier: str | None,
    source: str,
    inputs: dict[str, Any],
    flags: list[Flag],
    prefix: str,
) -> RowScore:
    if tier is None:
        if source:
            flags.append(
                Flag(
                    "invalid_tier",
                    f"“{source}”不是达成档次，请选择达成 / 部分达成 / 未达成",
                    True,
                    plan.code,
                )
            )
            return RowScore(
                plan.code, plan.path, plan.weight, None, True, False, inputs,
                prefix + "无法识别达成档次", flags, False,
            )  # fmt: skip
        return _missing_row(plan, "请选择达成档次（达成 / 部分达成 / 未达成）", inputs, flags)
    low, high, inclusive = plan.tier_bands[tier]
    value, band, explain = _band_score(plan, entry, low, high, inclusive, tier, options, flags)
    if value is None:
        if not any(f.blocking for f in flags):
            return _missing_row(plan, f"请在{band()}内填写得分", inputs, flags)
        return RowScore(
            plan.code, plan.path, plan.weight, None, True, False, inputs,
            prefix + band(), flags, False, tier,
        )  # fmt: skip
    return _finish(
        plan,
        entry,
        value,
        inputs,
        lambda: f"{prefix}{tier}（{TIERS[tier].text()}），{explain()}",
        flags,
        False,
        tier,
    )


def _score_checklist(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    flags: list[Flag] = []
    rule = plan.ind.rule
    count = len(rule.points)
    raw_points = entry.get("points")
    tiers: list[str | None]
    if raw_points:
        labels = [str(p).strip() for p in raw_points]
        if len(labels) != count:
            flags.append(
                Flag(
                    "invalid_tier",
                    f"评价要点共 {count} 项，填报了 {len(labels)} 项",
                    True,
                    plan.code,
                )
            )
            return RowScore(
                plan.code, plan.path, plan.weight, None, True, False, {"points": labels},
                "评价要点数量不符", flags, False,
            )  # fmt: skip
        tiers = [tier_from_label(label) if label else None for label in labels]
        inputs: dict[str, Any] = {"points": labels}
    else:
        tier, source = _resolve_tier(entry)
        if tier is None:
            return _tier_row(plan, entry, options, None, source, {"label": source}, flags, "")
        tiers = [tier] * count
        inputs = {"tier": tier, "label": source}
    if any(t is None for t in tiers):
        missing = [
            _CIRCLED[i] if i < len(_CIRCLED) else str(i + 1)
            for i, t in enumerate(tiers)
            if t is None
        ]
        return _missing_row(plan, f"评价要点{''.join(missing)}未评档次", inputs, flags)
    low = ZERO
    high = ZERO
    inclusive = True
    for share, tier_name in zip(rule.shares, tiers, strict=True):
        tier_band: Band = TIERS[tier_name]  # type: ignore[index]
        low = CTX.add(low, CTX.multiply(share, tier_band.low))
        high = CTX.add(high, CTX.multiply(share, tier_band.high))
        inclusive = inclusive and tier_band.high_inclusive
    low = CTX.multiply(plan.weight, low).quantize(_EDGE, context=CTX)
    high = CTX.multiply(plan.weight, high).quantize(_EDGE, context=CTX)
    distinct = set(tiers)
    label = tiers[0] if len(distinct) == 1 else "各要点档次"
    value, band, explain = _band_score(
        plan, entry, low, high, inclusive, str(label), options, flags
    )
    if value is None:
        if not any(f.blocking for f in flags):
            return _missing_row(plan, f"请在{band()}内填写得分", inputs, flags)
        return RowScore(
            plan.code, plan.path, plan.weight, None, True, False, inputs,
            _checklist_detail(rule.shares, tiers) + "，" + band(), flags, False,
        )  # fmt: skip
    single = tiers[0] if len(distinct) == 1 else None
    return _finish(
        plan,
        entry,
        value,
        inputs,
        lambda: _checklist_detail(rule.shares, tiers) + "，" + explain(),
        flags,
        False,
        single,
    )


def _checklist_detail(shares: list[Decimal], tiers: list[str | None]) -> str:
    count = len(tiers)
    share_text = f"各占{_share_text(shares[0], count)}" if len(set(shares)) == 1 else "按各自权重"
    if len(set(tiers)) == 1:
        return f"{count} 项评价要点{share_text}，均为{tiers[0]}"
    marks = "".join(
        f"{_CIRCLED[i] if i < len(_CIRCLED) else i + 1}{t}" for i, t in enumerate(tiers)
    )
    return f"{count} 项评价要点{share_text}：{marks}"


def _share_text(share: Decimal, count: int) -> str:
    """20% for clean percentages, 1/3 when the share is one of ``count`` equal thirds etc."""
    percent = CTX.multiply(share, Decimal(100))
    if percent == q2(percent):
        return f"{fmt(percent)}%"
    return f"1/{count}"


def _quantity(
    plan: _Plan, entry: Entry, options: _Options
) -> tuple[RowScore | None, Decimal, str, dict[str, Any], list[Flag]]:
    """Shared front of the quantitative kinds: read the actual, or hand over to tier scoring.

    Returns (finished_row_or_None, actual, unit, inputs, flags).
    """
    flags: list[Flag] = []
    actual_text = _text(entry, "actual")
    inputs: dict[str, Any] = {"actual": actual_text}
    if actual_text in NA_MARKS:
        flags.append(
            Flag("na_marker", f"实际完成值为“{actual_text}”，按不适用处理", False, plan.code)
        )
        return _na_row(plan, "不适用", inputs, flags), ZERO, "", inputs, flags
    target = plan.target
    if not actual_text:
        tier_text = _text(entry, "tier")
        if tier_text and target is None:
            return _tier_fallback(plan, entry, options, inputs, flags), ZERO, "", inputs, flags
        return _missing_row(plan, "请填写实际完成值", inputs, flags), ZERO, "", inputs, flags
    parsed = parse_quantity(actual_text)
    if parsed is None:
        tier = tier_from_label(actual_text)
        if tier is not None or _text(entry, "tier"):
            flags.append(
                Flag(
                    "tier_label_on_quantitative",
                    f"定量指标的实际完成值“{actual_text}”是档次描述，按定性档次评分",
                    False,
                    plan.code,
                )
            )
            if target is None:
                _flag_text_target(plan, flags)
            return _tier_fallback(plan, entry, options, inputs, flags), ZERO, "", inputs, flags
        flags.append(Flag("invalid_number", f"实际完成值“{actual_text}”不是数值", True, plan.code))
        return (
            RowScore(
                plan.code, plan.path, plan.weight, None, True, False, inputs,
                "实际完成值无法识别", flags, False,
            ),
            ZERO, "", inputs, flags,
        )  # fmt: skip
    _op, value, unit = parsed
    if target is None:
        _flag_text_target(plan, flags)
        return _tier_fallback(plan, entry, options, inputs, flags), ZERO, "", inputs, flags
    if value < 0:
        flags.append(
            Flag("negative_actual", f"实际完成值 {fmt(value)} 为负数，按 0 计", False, plan.code)
        )
        value = ZERO
    target_unit = plan.ind.target.unit
    if unit and target_unit and unit != target_unit:
        flags.append(
            Flag(
                "unit_mismatch",
                f"实际完成值单位“{unit}”与指标值单位“{target_unit}”不同，请核对",
                False,
                plan.code,
            )
        )
    inputs["value"] = value
    return None, value, unit or target_unit, inputs, flags


def _flag_text_target(plan: _Plan, flags: list[Flag]) -> None:
    flags.append(
        Flag(
            "target_not_numeric",
            f"年度指标值“{plan.ind.target.text}”不是数值，无法按公式计分，按达成档次评分",
            False,
            plan.code,
        )
    )


def _tier_fallback(
    plan: _Plan, entry: Entry, options: _Options, inputs: dict[str, Any], flags: list[Flag]
) -> RowScore:
    tier, source = _resolve_tier(entry)
    inputs["tier"] = tier
    return _tier_row(plan, entry, options, tier, source, inputs, flags, "按档次评分：")


def _over(plan: _Plan, value: Decimal, unit: str, flags: list[Flag]) -> bool:
    if plan.over_at is not None and value >= plan.over_at:
        flags.append(
            Flag(
                "over_achievement",
                f"实际完成值 {fmt(value)}{unit} 远超指标值 {plan.ind.target.text}，"
                "按满分封顶，须分析原因",
                False,
                plan.code,
            )
        )
        return True
    return False


def _manual_deduction(
    plan: _Plan, entry: Entry, formula: Decimal, flags: list[Flag]
) -> tuple[Decimal, str]:
    """A manual score on a quantitative row may only lower the formula's score."""
    text = _text(entry, "score")
    if not text:
        return formula, ""
    try:
        manual = parse_decimal(text)
    except InputError as exc:
        flags.append(Flag("invalid_number", f"得分：{exc}", True, plan.code))
        return formula, ""
    rounded = q2(formula)
    if manual > rounded:
        code = "score_above_weight" if manual > plan.weight else "score_above_formula"
        flags.append(
            Flag(code, f"填报得分 {fmt(manual)} 高于按公式计算的 {fmt2(rounded)}", True, plan.code)
        )
        return formula, ""
    if manual < rounded:
        flags.append(
            Flag(
                "deduction_when_met" if rounded == plan.weight else "manual_deduction",
                f"填报得分 {fmt(manual)} 低于按公式计算的 {fmt2(rounded)}，须说明扣分原因",
                False,
                plan.code,
            )
        )
        return manual, f"；扣分后得分 {fmt2(manual)}"
    return formula, ""


def _score_forward(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    row, value, unit, inputs, flags = _quantity(plan, entry, options)
    if row is not None:
        return row
    if plan.kind == "satisfaction" and unit == "%" and value > 100:
        flags.append(Flag("invalid_number", f"满意度 {fmt(value)}% 超过 100%", True, plan.code))
        return RowScore(
            plan.code, plan.path, plan.weight, None, True, False, inputs,
            "满意度超过 100%", flags, False,
        )  # fmt: skip
    target: Decimal = plan.target  # type: ignore[assignment]
    weight = plan.weight
    over = _over(plan, value, unit, flags)
    if value >= target:
        formula = weight
        ratio = None
    else:
        # target > 0 here: value >= 0 = target would have taken the branch above.
        ratio = CTX.divide(value, target)
        formula = CTX.multiply(weight, ratio)
    result, extra = (
        _manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    explain = partial(_explain_forward, value, unit, target, weight, ratio, formula, over, extra)
    return _finish(plan, entry, result, inputs, explain, flags, over)


def _explain_forward(
    value: Decimal,
    unit: str,
    target: Decimal,
    weight: Decimal,
    ratio: Decimal | None,
    formula: Decimal,
    over: bool,
    extra: str,
) -> str:
    if ratio is None:
        text = f"实际完成值 {fmt(value)}{unit} ≥ 指标值 {fmt(target)}{unit}，达到目标，得满分 {fmt2(weight)}"
        if over:
            text += "（超额完成，封顶）"
        return text + extra
    return (
        f"实际完成值 {fmt(value)}{unit} / 指标值 {fmt(target)}{unit} = {fmt_pct(ratio)}，"
        f"得分 = {fmt(weight)} × {fmt_pct(ratio)} = {fmt2(formula)}{extra}"
    )


def _score_equal(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    if plan.target is None or plan.target != 0:
        return _score_forward(plan, entry, options)
    row, value, unit, inputs, flags = _quantity(plan, entry, options)
    if row is not None:
        return row
    if value <= 0:
        formula, text = (
            plan.weight,
            f"指标值为 0，实际完成值 {fmt(value)}{unit}，得满分 {fmt2(plan.weight)}",
        )
    else:
        formula, text = ZERO, f"指标值为 0，实际完成值 {fmt(value)}{unit} 不为 0，得分 0.00"
    result, extra = (
        _manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    return _finish(plan, entry, result, inputs, text + extra, flags, False)


def _score_reverse(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    row, value, unit, inputs, flags = _quantity(plan, entry, options)
    if row is not None:
        return row
    target: Decimal = plan.target  # type: ignore[assignment]
    weight = plan.weight
    with localcontext(CTX):
        formula, case = _reverse_formula(value, target, weight, plan.ind.rule.reverse_formula)
    result, extra = (
        _manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    explain = partial(_explain_reverse, case, value, unit, target, weight, formula, extra)
    return _finish(plan, entry, result, inputs, explain, flags, False)


def _reverse_formula(
    value: Decimal, target: Decimal, weight: Decimal, kind: str
) -> tuple[Decimal, str]:
    """A ceiling (≤): full marks when met, else target / actual × weight ("ratio") or a
    linear fall to 0 at twice the target ("linear"); a zero ceiling exceeded scores 0.

    The operators use the current context: callers make it CTX.
    """
    if value <= target:
        return weight, "met"
    if target == 0:
        return ZERO, "zero"
    if kind == "linear":
        excess = (value - target) / target
        if excess >= ONE:
            return ZERO, "linear_zero"
        return weight * (ONE - excess), "linear"
    return weight * (target / value), "ratio"


def _explain_reverse(
    case: str,
    value: Decimal,
    unit: str,
    target: Decimal,
    weight: Decimal,
    formula: Decimal,
    extra: str,
) -> str:
    limit = f"上限 {fmt(target)}{unit}"
    if case == "met":
        return f"实际 {fmt(value)}{unit} ≤ {limit}，达到目标，得满分 {fmt2(weight)}{extra}"
    if case == "zero":
        return f"{limit}，实际 {fmt(value)}{unit} 超出，得分 0.00{extra}"
    if case.startswith("linear"):
        tail = "（达到上限两倍，得 0 分）" if case == "linear_zero" else ""
        return (
            f"实际 {fmt(value)}{unit} 超过{limit}，得分 = {fmt(weight)} × (1 − ({fmt(value)} − "
            f"{fmt(target)}) / {fmt(target)}) = {fmt2(formula)}{tail}{extra}"
        )
    return (
        f"实际 {fmt(value)}{unit} 超过{limit}，得分 = {fmt(weight)} × {fmt(target)} / "
        f"{fmt(value)} = {fmt2(formula)}{extra}"
    )


def _score_ratio(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    flags: list[Flag] = []
    rule = plan.ind.rule
    budget = plan.kind == "budget"
    num_label = rule.numerator_label or ("全年执行数" if budget else "实际支出")
    den_label = rule.denominator_label or ("全年预算数" if budget else "实际到位")
    num_text = _text(entry, "numerator")
    den_text = _text(entry, "denominator")
    actual_text = _text(entry, "actual")
    inputs: dict[str, Any] = {"numerator": num_text, "denominator": den_text}
    if entry.get("na"):
        return _na_row(plan, "不适用", inputs, flags)
    if not num_text and not den_text:
        if not actual_text:
            return _missing_row(plan, f"请填写{num_label}和{den_label}", inputs, flags)
        inputs["actual"] = actual_text
        if actual_text in NA_MARKS:
            flags.append(
                Flag("na_marker", f"实际完成值为“{actual_text}”，按不适用处理", False, plan.code)
            )
            return _na_row(plan, "不适用", inputs, flags)
        parsed = parse_quantity(actual_text)
        if parsed is None or parsed[2] not in ("%", ""):
            if plan.ind.target.text and plan.target is None:
                _flag_text_target(plan, flags)
            flags.append(
                Flag(
                    "tier_label_on_quantitative",
                    f"未提供{num_label}和{den_label}，实际完成值“{actual_text}”按定性档次评分",
                    False,
                    plan.code,
                )
            )
            return _tier_fallback(plan, entry, options, inputs, flags)
        percent = parsed[1] if parsed[2] == "%" else CTX.multiply(parsed[1], Decimal(100))
        rate = CTX.divide(percent, Decimal(100))
        amounts: tuple[Decimal, Decimal] | None = None
    else:
        if not num_text or not den_text:
            missing = num_label if not num_text else den_label
            return _missing_row(plan, f"请填写{missing}", inputs, flags)
        try:
            numerator = parse_decimal(num_text)
            denominator = parse_decimal(den_text)
        except InputError as exc:
            flags.append(Flag("invalid_number", str(exc), True, plan.code))
            return RowScore(
                plan.code, plan.path, plan.weight, None, True, False, inputs,
                "金额无法识别", flags, False,
            )  # fmt: skip
        inputs["numerator_value"] = numerator
        inputs["denominator_value"] = denominator
        if denominator == 0:
            flags.append(
                Flag(
                    "zero_denominator", f"{den_label}为 0，本项不适用（不作除法）", False, plan.code
                )
            )
            return _na_row(plan, f"{den_label}为 0，不适用", inputs, flags)
        rate = CTX.divide(numerator, denominator)
        amounts = (numerator, denominator)
        initial_text = _text(entry, "initial")
        if budget and initial_text:
            try:
                initial = parse_decimal(initial_text)
                inputs["initial_value"] = initial
                if initial != denominator:
                    flags.append(
                        Flag(
                            "budget_adjusted",
                            f"年初预算数 {fmt(initial)} 与全年预算数 {fmt(denominator)} 不同（年中调整），"
                            "执行率以全年预算数为分母",
                            False,
                            plan.code,
                        )
                    )
            except InputError:
                pass  # informative only; the score does not use it
    inputs["rate"] = rate
    needs_reason = False
    if rate > ONE:
        flags.append(
            Flag("rate_above_100", f"比率 {fmt_pct(rate)} 超过 100%，按 100% 计", False, plan.code)
        )
        formula = plan.weight
    else:
        formula = CTX.multiply(plan.weight, rate)
    if rule.reason_below is not None and rate < rule.reason_below:
        needs_reason = True
        flags.append(
            Flag(
                "execution_below_threshold",
                f"比率 {fmt_pct(rate)} 低于 {fmt_pct(rule.reason_below)}，须说明原因",
                False,
                plan.code,
            )
        )
    result, extra = (
        _manual_deduction(plan, entry, formula, flags) if entry.get("score") else (formula, "")
    )
    explain = partial(
        _explain_ratio, num_label, den_label, amounts, rate, plan.weight, formula, extra
    )
    return _finish(plan, entry, result, inputs, explain, flags, needs_reason)


def _explain_ratio(
    num_label: str,
    den_label: str,
    amounts: tuple[Decimal, Decimal] | None,
    rate: Decimal,
    weight: Decimal,
    formula: Decimal,
    extra: str,
) -> str:
    if amounts is None:
        head = f"{num_label} / {den_label} = {fmt_pct(rate)}（填报比率）"
    else:
        head = (
            f"{num_label} / {den_label} = {fmt(amounts[0])} / {fmt(amounts[1])} = {fmt_pct(rate)}"
        )
    if rate > ONE:
        return f"{head}，超过 100% 按 100% 计，得分 = {fmt(weight)} × 100% = {fmt2(formula)}{extra}"
    return f"{head}，得分 = {fmt(weight)} × {fmt_pct(rate)} = {fmt2(formula)}{extra}"


_KIND_FUNCS: dict[str, Callable[[_Plan, Entry, _Options], RowScore]] = {
    "checklist": _score_checklist,
    "tier": _score_tier,
    "forward": _score_forward,
    "satisfaction": _score_forward,
    "equal": _score_equal,
    "reverse": _score_reverse,
    "ratio": _score_ratio,
    "budget": _score_ratio,
}


# --------------------------------------------------------------------------------------
# Fast paths
#
# Each kind has a fast path for its common case (a plain number or a tier label, no manual
# score, no N/A marker ...).  It builds exactly the row the general function above would, from
# data precomputed in the plan, with fewer calls; anything else goes to the general function,
# which starts again from the entry.  tests/scoring/test_scoring_fastpath.py checks the two
# agree on every case the fast paths take.
#
# They run with CTX as the current context (score() makes it so once per form, and
# _Plan.fast around a single call), so their Decimal operators (+, *, /, quantize without a
# context) compute exactly what CTX's methods do, without a Context method's argument parsing.
# Immutable results of a plan (flags, band info, explanation builders) are shared by rows.

_ZERO_SCORE = ZERO.quantize(Q2, ROUND_HALF_UP, CTX)  # 0.00, a row's 0 rounded to 2 places
_REASON_MESSAGE = "须填写偏差原因分析及改进措施"


def _reason_flag(plan: _Plan, entry: Entry) -> Flag:
    return plan.imported_reason_flag if entry.get("imported") else plan.reason_flag


def _fast_quantity(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    """forward / satisfaction / equal / reverse with a non-negative number in the target's unit.

    Anything :func:`_quantity` would flag (N/A marker, tier label, negative, other unit) or a
    manual score goes to the general function.  Runs with CTX as the current context.
    """
    text = entry.get("actual")
    if text.__class__ is not str or entry.get("score"):
        return plan.func(plan, entry, options)
    text = text.strip()
    # The number and unit as parse_quantity would split them, without its patterns, for the
    # usual "87.23万元" / "95.12" (see _Plan.plain_unit): ASCII digits, at most one inner dot.
    number = text.removesuffix(plan.plain_unit)
    whole, dot, fraction = number.partition(".")
    if whole.isdigit() and (fraction.isdigit() or not dot) and number.isascii():
        value = Decimal(number)
        unit = plan.target_unit
    else:
        if not text or text in NA_MARKS:
            return plan.func(plan, entry, options)
        parsed = parse_quantity(text)
        if parsed is None:
            return plan.func(plan, entry, options)
        value = parsed[1]
        if value < ZERO:
            return plan.func(plan, entry, options)
        unit = parsed[2]
        target_unit = plan.target_unit
        if not unit:
            unit = target_unit
        elif target_unit and unit != target_unit:
            return plan.func(plan, entry, options)
    mode = plan.mode
    target: Decimal = plan.target  # type: ignore[assignment]
    weight = plan.weight
    flags: list[Flag] = []
    explain: Callable[[], str]
    if mode == _FORWARD:
        if plan.satisfaction and unit == "%" and value > HUNDRED:
            return plan.func(plan, entry, options)
        over_at: Decimal = plan.over_at  # type: ignore[assignment]
        if value >= target:
            over = value >= over_at and _over(plan, value, unit, flags)
            formula = weight
            ratio = None
            result = plan.met_score
            needs_reason = over or plan.met_below
        else:
            # Below the target, only a threshold under 1 can flag over-achievement.
            over = plan.over_below_target and value >= over_at and _over(plan, value, unit, flags)
            ratio = value / target  # CTX.divide, as in _score_forward (CTX is current)
            formula = weight * ratio
            result = formula.quantize(Q2, ROUND_HALF_UP)
            needs_reason = over or result < weight
        explain = partial(_explain_forward, value, unit, target, weight, ratio, formula, over, "")
    elif mode == _REVERSE:
        if value <= target:
            formula, case = weight, "met"  # as _reverse_formula
            result = plan.met_score
            needs_reason = plan.met_below
        else:
            formula, case = _reverse_formula(value, target, weight, plan.ind.rule.reverse_formula)
            result = formula.quantize(Q2, ROUND_HALF_UP)
            needs_reason = result < weight
        explain = partial(_explain_reverse, case, value, unit, target, weight, formula, "")
    else:  # equal with a zero target
        if not value:  # value <= 0, as value >= 0 here
            result = plan.met_score
            needs_reason = plan.met_below
        else:
            result = _ZERO_SCORE
            needs_reason = result < weight
        explain = partial(_explain_equal_zero, value, unit, weight)
    if needs_reason:
        reason = entry.get("reason")
        if reason is None or not (
            reason.strip() if reason.__class__ is str else _text(entry, "reason")
        ):
            flags.append(plan.imported_reason_flag if entry.get("imported") else plan.reason_flag)
    return _new(
        RowScore,
        (
            plan.code,
            plan.path,
            weight,
            result,
            True,
            True,
            {"actual": text, "value": value},
            explain,
            flags,
            needs_reason,
            None,
        ),
    )


def _explain_equal_zero(value: Decimal, unit: str, weight: Decimal) -> str:
    if value <= 0:
        return f"指标值为 0，实际完成值 {fmt(value)}{unit}，得满分 {fmt2(weight)}"
    return f"指标值为 0，实际完成值 {fmt(value)}{unit} 不为 0，得分 0.00"


def _fast_tier(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    """A tier label (in "tier", else in "actual"), no manual score, default "top"."""
    source = entry.get("tier")
    if source is not None:
        if source.__class__ is not str:
            return plan.func(plan, entry, options)
        source = source.strip()
    if not source:
        source = entry.get("actual")
        if source.__class__ is not str:
            return plan.func(plan, entry, options)
        source = source.strip()
    tier = tier_from_label(source) if source else None
    if tier is None or entry.get("score"):
        return plan.func(plan, entry, options)
    info = plan.tier_table[tier]
    flags: list[Flag] = []
    if info.below and not _text(entry, "reason"):
        flags.append(_reason_flag(plan, entry))
    return _new(
        RowScore,
        (
            plan.code,
            plan.path,
            plan.weight,
            info.rounded,
            True,
            True,
            {"tier": tier, "label": source},
            plan.tier_explains[tier],
            flags,
            info.below,
            tier,
        ),
    )


def _explain_band_default(info: _BandInfo) -> str:
    """What _band_score explains for a default (top of band) score."""
    close = "]" if info.inclusive else ")"
    return (
        f"得分区间 [{fmt2(info.low)}, {fmt2(info.high)}{close}，"
        f"取区间上限{'' if info.inclusive else '以下最高分'} {fmt2(info.default)}"
    )


def _explain_tier_default(tier: str, info: _BandInfo) -> str:
    return f"{tier}（{TIERS[tier].text()}），{_explain_band_default(info)}"


# Checklist memo: distinct point combinations (3 points, 3 tiers: 27) and distinct typed
# label lists remembered per indicator; real forms pick from a handful of labels.  Bounded
# (past the bound rows are computed, not stored); 0 turns the memo off, as the benchmark's
# "memo off" figure does.
_MEMO_MAX = 4096


def _fast_checklist(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    """Every 评价要点 rated with a recognised label, no manual score, default "top"."""
    raw_points = entry.get("points")
    if not raw_points or entry.get("score"):
        return plan.func(plan, entry, options)
    key: tuple[Any, ...] | None = None
    known = None
    if raw_points.__class__ is list:
        key = tuple(raw_points)
        try:
            known = plan.point_labels.get(key)
        except TypeError:  # an unhashable point: the general path reports it
            key = None
        plan.memo_lookups += 1
    if known is not None:
        plan.memo_hits += 1
        labels = list(known[0])
        info = known[1]
        explain = known[2]
    else:
        labels = [str(p).strip() for p in raw_points]
        tiers = [tier_from_label(label) if label else None for label in labels]
        tier_key = tuple(tiers)
        found = plan.point_table.get(tier_key)
        if found is None:
            if len(labels) != len(plan.ind.rule.points) or None in tier_key:
                return plan.func(plan, entry, options)
            found = _point_band(plan, tiers)
            if len(plan.point_table) < _MEMO_MAX:
                plan.point_table[tier_key] = found
        info = found
        explain = partial(_explain_checklist_default, plan.ind.rule.shares, tiers, info)
        # Remember the typed labels too (plain strings only, so equal keys mean equal labels).
        if (
            key is not None
            and len(plan.point_labels) < _MEMO_MAX
            and all(p.__class__ is str for p in key)
        ):
            plan.point_labels[key] = (tuple(labels), info, explain)
    flags: list[Flag] = []
    if info.below and not _text(entry, "reason"):
        flags.append(_reason_flag(plan, entry))
    return _new(
        RowScore,
        (
            plan.code,
            plan.path,
            plan.weight,
            info.rounded,
            True,
            True,
            {"points": labels},
            explain,
            flags,
            info.below,
            info.single,
        ),
    )


def _point_band(plan: _Plan, tiers: list[str | None]) -> _BandInfo:
    """The band of a checklist with these point tiers, as _score_checklist computes it.

    The operators use the current context, CTX (as in every fast path).
    """
    low = ZERO
    high = ZERO
    inclusive = True
    for parts, tier_name in zip(plan.point_parts, tiers, strict=True):
        part_low, part_high, part_inclusive = parts[tier_name]  # type: ignore[index]
        low += part_low
        high += part_high
        inclusive = inclusive and part_inclusive
    low = (plan.weight * low).quantize(_EDGE, None, CTX)
    high = (plan.weight * high).quantize(_EDGE, None, CTX)
    single = tiers[0] if len(set(tiers)) == 1 else None
    return _band_info(plan.weight, low, high, inclusive, single or "各要点档次", single)


def _explain_checklist_default(
    shares: list[Decimal], tiers: list[str | None], info: _BandInfo
) -> str:
    return _checklist_detail(shares, tiers) + "，" + _explain_band_default(info)


def _fast_ratio(plan: _Plan, entry: Entry, options: _Options) -> RowScore:
    """Two plain amounts, a non-zero denominator, no manual score, no 年初预算数."""
    num_text = entry.get("numerator")
    den_text = entry.get("denominator")
    if num_text.__class__ is not str or den_text.__class__ is not str or entry.get("score"):
        return plan.func(plan, entry, options)
    num_text = num_text.strip()
    den_text = den_text.strip()
    numerator = plain_decimal(num_text)
    denominator = plain_decimal(den_text)
    if (
        numerator is None
        or denominator is None
        or not denominator
        or (plan.budget and entry.get("initial") is not None)
    ):
        return plan.func(plan, entry, options)
    rate = numerator / denominator  # CTX.divide, as in _score_ratio (CTX is current)
    weight = plan.weight
    flags: list[Flag] = []
    if rate > ONE:
        flags.append(
            Flag("rate_above_100", f"比率 {fmt_pct(rate)} 超过 100%，按 100% 计", False, plan.code)
        )
        formula = weight
        result = plan.met_score
    else:
        formula = weight * rate
        result = formula.quantize(Q2, ROUND_HALF_UP)
    needs_reason = False
    reason_below = plan.ind.rule.reason_below
    if reason_below is not None and rate < reason_below:
        needs_reason = True
        flags.append(
            Flag(
                "execution_below_threshold",
                f"比率 {fmt_pct(rate)} 低于 {plan.reason_below_text}，须说明原因",
                False,
                plan.code,
            )
        )
    if result < weight:
        needs_reason = True
    if needs_reason and not _text(entry, "reason"):
        flags.append(_reason_flag(plan, entry))
    return _new(
        RowScore,
        (
            plan.code,
            plan.path,
            weight,
            result,
            True,
            True,
            {
                "numerator": num_text,
                "denominator": den_text,
                "numerator_value": numerator,
                "denominator_value": denominator,
                "rate": rate,
            },
            partial(
                _explain_ratio,
                plan.num_label,
                plan.den_label,
                (numerator, denominator),
                rate,
                weight,
                formula,
                "",
            ),
            flags,
            needs_reason,
            None,
        ),
    )


def _memo_stats(scheme: Scheme) -> tuple[int, int]:
    """(lookups, hits) of the checklist label memo over a scheme's indicators (benchmark)."""
    plans = _compile(scheme).plans
    return sum(p.memo_lookups for p in plans), sum(p.memo_hits for p in plans)


# --------------------------------------------------------------------------------------
# Public entry points


def score(scheme: Scheme, entries: Entries) -> Scorecard:
    """Score a form.  Pure and deterministic; ``entries`` maps indicator code to its inputs."""
    compiled = scheme._cache.get("plan") or _compile(scheme)
    options = compiled.options
    rows: list[RowScore] = []
    flags: list[Flag] = list(compiled.form_flags)
    append = rows.append
    get = entries.get
    add = CTX.add
    raw = ZERO
    every_row_applies = True
    # CTX is the current context while the rows are scored: the fast paths and the sum below
    # use Decimal operators, which then compute exactly what CTX's methods would, at half the
    # cost (a Context method parses a tuple of arguments, an operator does not).
    with localcontext(CTX):
        for code, fast, plan in compiled.steps:
            entry = get(code) or _EMPTY
            if entry.get("na"):
                row = _na_row(plan, "不适用（已标注）", {"na": True}, [])
                if not plan.zero_weight:
                    every_row_applies = False
            elif plan.zero_weight:
                row = _na_row(plan, "分值为空，不计分", {}, [])
            else:
                row = fast(plan, entry, options)
                # Sum while the row is at hand (rows are already rounded to 2 places); a row
                # with a score is applicable.  row[3] is .score, row[4] .applicable, row[8]
                # .flags (index access is cheaper).
                row_score = row[3]
                if row_score is not None:
                    raw += row_score  # CTX.add
                elif not row[4]:
                    every_row_applies = False
            append(row)
            if row[8]:
                flags.extend(row[8])
    if every_row_applies:
        applicable = compiled.all_weight  # the same sum, in the same order, precomputed
    else:
        applicable = ZERO
        for row in rows:
            if row.applicable:
                applicable = add(applicable, row.weight)
    if len(entries) > len(compiled.codes) or not compiled.codes.issuperset(entries):
        for code in entries:
            if code not in compiled.codes:
                flags.append(
                    Flag("unknown_entry", f"指标代码“{code}”不在指标体系中，已忽略", False, None)
                )
    total, raw_sum, applicable_weight, policy_flag = _apply_na_policy(
        scheme, compiled.full_weight, raw, applicable
    )
    if policy_flag is not None:
        flags.append(policy_flag)
    return Scorecard(
        scheme.name,
        scheme.version,
        rows,
        total,
        grade_for(total),
        flags,
        any(map(_BLOCKING, flags)),
        raw_sum,
        applicable_weight,
    )


def _apply_na_policy(
    scheme: Scheme, full: Decimal, raw: Decimal, applicable: Decimal
) -> tuple[Decimal, Decimal, Decimal, Flag | None]:
    """Total from the sum of rounded applicable rows and their weight, with the N/A policy.

    Returns (total, raw sum, applicable weight, policy flag or None).
    """
    na_weight = CTX.subtract(full, applicable)
    if na_weight <= 0 or applicable == 0:
        return q2(raw), raw, applicable, None
    if scheme.na_policy == "rescale":
        total = q2(CTX.divide(CTX.multiply(raw, scheme.total), applicable))
        flag = Flag(
            "na_rescaled",
            f"不适用指标共 {fmt(na_weight)} 分，按适用指标 {fmt(applicable)} 分折算为 "
            f"{fmt(scheme.total)} 分制：{fmt2(raw)} × {fmt(scheme.total)} / {fmt(applicable)} = {fmt2(total)}",
            False,
            None,
        )
        return min(total, scheme.total), raw, applicable, flag
    flag = Flag(
        "na_excluded",
        f"不适用指标共 {fmt(na_weight)} 分不计入，本表满分为 {fmt(applicable)} 分",
        False,
        None,
    )
    return q2(raw), raw, applicable, flag


def stage_total(scheme: Scheme, scores: Mapping[str, Decimal | None]) -> Decimal:
    """Total of one score column (self, department review or finance), same policy as score().

    A code mapped to None, or absent, is not applicable; indicators of weight 0 never count.
    Scores are rounded per row before summing, as in :func:`score`.
    """
    compiled = _compile(scheme)
    raw = ZERO
    applicable = ZERO
    for plan in compiled.plans:
        value = scores.get(plan.code)
        if value is None or plan.weight == 0:
            continue
        applicable = CTX.add(applicable, plan.weight)
        raw = CTX.add(raw, q2(value))
    total, _raw, _applicable, _flag = _apply_na_policy(
        scheme, compiled.full_weight, raw, applicable
    )
    return total
