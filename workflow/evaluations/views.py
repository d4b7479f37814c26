"""View data for the workflow pages: dates and deadlines, the paper-form layout, error pages.

Templates receive what these functions build and compute nothing themselves: no score, no
permission, no deadline arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask import flash, render_template

from scoring.engine import RowScore, Scorecard
from scoring.model import TIERS, Indicator, Scheme
from scoring.numbers import fmt
from workflow.core.days import days_left, days_text
from workflow.evaluations import checks, operations
from workflow.evaluations.forms import field_name
from workflow.evaluations.operations import OperationError
from workflow.evaluations.trail import on_behalf, returned
from workflow.machine import Event, State
from workflow.models import Cycle
from workflow.targets import queries as target_queries

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PER_PAGE = 50
TIER_CHOICES = tuple(TIERS)
# The label a unit would print for each tier in the 实际完成值 column (JS follows the tier).
TIER_LABELS = tuple(checks.TIER_LABELS.values())

# The stage (and so the deadline) an evaluation in each state is waiting on.
STATE_STAGE = {
    State.DRAFT.value: "submit",
    State.SELF_SCORED.value: "review",
    State.DEPT_REVIEW.value: "review",
    State.FINANCE_CONFIRMATION.value: "confirm",
}
STAGE_LABELS = {"submit": "单位填报", "review": "主管部门审核", "confirm": "财政确认"}
STATE_ORDER = [s.value for s in State]

# Events fired from a plain button (with a reason where the table requires one). Submit,
# approve and confirm have their own pages because they carry a scorecard or scores.
SIMPLE_EVENTS = frozenset(
    {Event.WITHDRAW, Event.START_REVIEW, Event.RETURN, Event.FINANCE_RETURN, Event.REOPEN}
)
PAGE_EVENTS = {
    Event.SUBMIT: "evaluations.submit",
    Event.APPROVE: "review.review",
    Event.CONFIRM: "finance.confirm",
}


def today() -> date:
    return datetime.now(LOCAL_TZ).date()


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def money(value: Decimal | None) -> str:
    return "" if value is None else fmt(value)


# --- schemes ---------------------------------------------------------------------------------


# The frozen scheme and live scorecard come from the operations module (one parse per
# distinct snapshot, shared with the workflow's own scoring).
scheme_for = operations.scheme_of
scorecard = operations.scorecard


# --- deadlines -------------------------------------------------------------------------------


class Deadline(NamedTuple):
    stage: str
    label: str
    day: date | None
    days_left: int | None
    day_kind: str = "calendar"  # the cycle's: calendar days or working days

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def text(self) -> str:
        if self.days_left is None:
            return ""
        return days_text(self.days_left, self.day_kind)


_NO_DEADLINE = Deadline("", "", None, None)


def _deadline(stage: str | None, day: date | None, on: date, kind: str = "calendar") -> Deadline:
    if stage is None:
        return _NO_DEADLINE
    left = None if day is None else days_left(on, day, kind)
    return Deadline(stage, STAGE_LABELS[stage], day, left, kind)


def deadline_for(
    state: str,
    deadlines: Mapping[str, date | None],
    on: date | None = None,
    kind: str = "calendar",
) -> Deadline:
    stage = STATE_STAGE.get(state)
    return _deadline(stage, deadlines.get(stage) if stage else None, on or today(), kind)


def cycle_deadlines(cycle: Cycle, on: date | None = None) -> list[Deadline]:
    on = on or today()
    return [
        _deadline(stage, cycle.deadline_for(stage), on, cycle.day_kind)
        for stage in ("submit", "review", "confirm")
    ]


# --- lists: one query with joins, the page's rows and the total count together ---------------


@dataclass
class FormRow:
    """One printed line of the indicator table (a leaf, or an empty 二级 heading)."""

    l1: str
    l2: str
    l1_span: int  # 0: the cell is merged into the one above
    l2_span: int
    indicator: Indicator | None = None
    result: RowScore | None = None
    entry: Mapping[str, Any] = field(default_factory=dict)
    # This row's field errors (name -> message), and what names its scheme's content.
    errors: Mapping[str, str] = field(default_factory=dict)
    scheme_token: str = ""
    # The target as printed when it was adjusted (调整): "≥95%（2022-06-30 调整，原 ≥98%）".
    target_note: str = ""

    tiers = TIER_CHOICES

    @property
    def cache_key(self) -> tuple[Any, ...] | None:
        """Everything the printed row depends on (workflow/cells.py caches rows by it): the
        scheme's content and the indicator's code, the merged cells, what was entered, the
        computed result as shown, and the row's errors. None (print, do not keep) for a row
        with errors or long typed text: what a user typed must not fill every worker's
        memory."""
        if self.errors or any(
            isinstance(v, str) and len(v) > _KEY_TEXT_MAX for v in self.entry.values()
        ):
            return None
        r = self.result
        shown = None
        if r is not None:
            flags = tuple((f.code, f.message, f.blocking) for f in r.flags)
            shown = (self.score_text, r.explanation, flags, r.needs_reason, r.tier)
        return (
            self.scheme_token,
            self.code,
            self.l1,
            self.l2,
            self.l1_span,
            self.l2_span,
            self.target_note,
            _frozen(self.entry),
            shown,
        )

    @property
    def code(self) -> str:
        return self.indicator.code if self.indicator else ""

    @property
    def target_display(self) -> str:
        """The 年度指标值 column: the adjusted text with the original, or the target."""
        if self.target_note:
            return self.target_note
        return self.indicator.target.text if self.indicator else ""

    def name(self, key: str) -> str:
        return field_name(self.code, key)

    @property
    def prefix(self) -> str:
        """The start of every field name of this row: prefix + "actual" == name("actual")."""
        return field_name(self.code, "")

    @property
    def weight_text(self) -> str:
        return fmt(self.indicator.weight) if self.indicator else ""

    @property
    def rule_summary(self) -> str:
        """The rule text's first 24 characters, for the collapsed cell."""
        text = self.indicator.rule_text if self.indicator else ""
        return text if len(text) <= 24 else text[:23] + "…"

    @property
    def points(self) -> list[tuple[str, str]]:
        """(point, the tier chosen for it) for a checklist's 评价要点."""
        ind = self.indicator
        if ind is None or ind.rule.kind != "checklist":
            return []
        return [(point, self.point(i)) for i, point in enumerate(ind.rule.points)]

    def value(self, key: str) -> str:
        value = self.entry.get(key)
        return "" if value is None else str(value)

    def point(self, index: int) -> str:
        points = self.entry.get("points") or []
        if index < len(points) and points[index]:
            return str(points[index])
        # A form imported with one label for the whole item shows it on every point.
        return self.tier_value

    @property
    def tier_value(self) -> str:
        raw = self.value("tier")
        if raw in TIERS:
            return raw
        if self.result is not None and self.result.tier in TIERS:
            return str(self.result.tier)
        return ""

    @property
    def shows_tier(self) -> bool:
        ind = self.indicator
        if ind is None:
            return False
        return ind.rule.kind == "tier" or (
            ind.rule.kind in ("forward", "reverse", "equal", "satisfaction")
            and not ind.target.numeric
        )

    @property
    def shows_actual(self) -> bool:
        return self.indicator is not None and self.indicator.rule.kind != "checklist"

    @property
    def shows_amounts(self) -> bool:
        return self.indicator is not None and self.indicator.rule.kind in ("ratio", "budget")

    @property
    def needs_reason(self) -> bool:
        return bool(self.result and self.result.needs_reason)

    @property
    def show_reason(self) -> bool:
        return self.needs_reason or bool(self.value("reason"))

    @property
    def na(self) -> bool:
        return bool(self.entry.get("na"))

    @property
    def score_text(self) -> str:
        if self.result is None:
            return ""
        if not self.result.applicable:
            return "不适用"
        if self.result.score is None:
            return "—"
        return f"{self.result.score:.2f}"

    @property
    def flags(self) -> list[Any]:
        return list(self.result.flags) if self.result else []

    def amount_label(self, which: str) -> str:
        ind = self.indicator
        assert ind is not None
        budget = ind.rule.kind == "budget"
        if which == "numerator":
            return ind.rule.numerator_label or ("全年执行数" if budget else "实际支出")
        return ind.rule.denominator_label or ("全年预算数" if budget else "实际到位")


def _frozen(value: Any) -> Any:
    """A hashable copy of entered values (dicts and lists as sorted tuples); each value keeps
    its type, since 1, 1.0 and True are equal but print differently."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return (value.__class__, value)


# Longer typed texts (a reason can run to pages) print without going into the row cache.
_KEY_TEXT_MAX = 500


def form_rows(
    scheme: Scheme,
    card: Scorecard | None,
    entries: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    scheme_token: str = "",
    target_notes: Mapping[str, str] | None = None,
) -> list[FormRow]:
    """The indicator table with merged 一级 / 二级 cells (rowspans), as on the paper form.

    ``scheme_token`` names the scheme's content (its snapshot digest); rows printed through
    the row cache need it, and it must change whenever the scheme does."""
    results = {r.code: r for r in card.rows} if card else {}
    leaves: dict[tuple[str, str], list[Indicator]] = {}
    order: list[tuple[str, str]] = []
    for ind in scheme.indicators:
        key = (ind.path[0], ind.path[1])
        if key not in leaves:
            leaves[key] = []
            order.append(key)
        leaves[key].append(ind)
    # Empty 二级 headings (the seed's blank 生态效益 / 可持续影响) keep their place.
    if scheme.groups:
        ordered: list[tuple[str, str]] = []
        for g in scheme.groups:
            if len(g.path) == 2:
                key = (g.path[0], g.path[1])
                ordered.append(key)
                leaves.setdefault(key, [])
        ordered += [k for k in order if k not in ordered]
        order = ordered
    group_weights = {g.path: g.weight for g in scheme.groups}
    rows: list[FormRow] = []
    l1_counts: dict[str, int] = {}
    for key in order:
        l1_counts[key[0]] = l1_counts.get(key[0], 0) + max(1, len(leaves[key]))
    seen_l1: set[str] = set()
    for key in order:
        items = leaves[key]
        l1_span = 0
        if key[0] not in seen_l1:
            seen_l1.add(key[0])
            l1_span = l1_counts[key[0]]
        weight = group_weights.get((key[0],))
        l1_label = key[0] + (f"（{fmt(weight)}分）" if weight is not None else "")
        if not items:
            rows.append(FormRow(l1_label, key[1], l1_span, 1))
            continue
        for i, ind in enumerate(items):
            rows.append(
                FormRow(
                    l1_label,
                    key[1],
                    l1_span if i == 0 else 0,
                    len(items) if i == 0 else 0,
                    indicator=ind,
                    result=results.get(ind.code),
                    entry=entries.get(ind.code) or {},
                    errors=_row_errors(errors, ind.code),
                    scheme_token=scheme_token,
                    target_note=(target_notes or {}).get(ind.code, ""),
                )
            )
    return rows


def _row_errors(errors: Mapping[str, str] | None, code: str) -> Mapping[str, str]:
    if not errors:
        return {}
    prefix = field_name(code, "")
    return {name: message for name, message in errors.items() if name.startswith(prefix)}


# The field a flag of the scoring engine is about, for the problem list's links.
FLAG_FIELDS = {
    "invalid_number": "score",
    "score_above_weight": "score",
    "score_outside_band": "score",
    "score_above_formula": "score",
    "label_score_mismatch": "score",
    "reason_required": "reason",
    "invalid_tier": "tier",
    "missing_input": "actual",
    "negative_actual": "actual",
}


class Problem(NamedTuple):
    """One line of the form's problem list: the row it links to ("" for none), its text, and
    the field it is about (brought into focus by the link; "" for the row's first)."""

    code: str
    text: str
    field: str = ""

    def __str__(self) -> str:
        return self.text


def summary_flags(
    scheme: Scheme,
    card: Scorecard,
    entries: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> tuple[list[Problem], list[Problem]]:
    """(blocking problems, notes) with the indicator's name in front, each naming its row.

    With `entries`, the field errors of what is stored (a draft is saved as typed) are
    blocking problems too, as submit will say; `errors` are those of what was just typed."""
    names = {ind.code: ind.path[2] or ind.path[1] for ind in scheme.indicators}
    blocking: list[Problem] = []
    notes: list[Problem] = []
    for f in card.flags:
        text = f"{names[f.indicator]}：{f.message}" if f.indicator in names else f.message
        key = FLAG_FIELDS.get(f.code)
        name = field_name(f.indicator, key) if f.indicator and key else ""
        (blocking if f.blocking else notes).append(Problem(f.indicator or "", text, name))
    if entries is not None or errors:
        said: dict[str, list[str]] = {}
        for f in card.flags:
            if f.blocking:
                said.setdefault(f.indicator or "", []).append(f.message)
        found = dict(errors) if errors else checks.entry_errors(scheme, entries or {})
        for name, message in checks.unsaid(found, said).items():
            code = checks.code_of(name)
            if code in names:
                texts = checks.problem_texts(scheme, {name: message})
                blocking += [Problem(code, t, name) for t in texts]
    return blocking, notes


def form_page(
    evaluation: Any,
    entries: Mapping[str, Any],
    narrative: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    version: int | None = None,
    status: int = 200,
    message: str | None = None,
    upload_errors: list[str] | None = None,
) -> tuple[str, int]:
    """The form page, as first shown, after a save that failed, or after an Excel upload
    (`upload_errors`: its cell messages, listed on top): what was typed is always shown."""
    scheme = scheme_for(evaluation)
    card = scorecard(evaluation, entries)
    if errors is None:
        # A draft is saved as typed: what is stored may still be wrong; say so by its field.
        errors = checks.entry_errors(scheme, entries)
    blocking, notes = summary_flags(scheme, card, errors=errors)
    narrative = narrative or {
        name: getattr(evaluation, name) or "" for name in operations.NARRATIVE_FIELDS
    }
    return (
        render_template(
            "evaluations/form.html",
            ev=evaluation,
            scheme=scheme,
            card=card,
            rows=form_rows(
                scheme,
                card,
                entries,
                errors,
                evaluation.scheme_key,
                target_queries.evaluation_target_texts(evaluation),
            ),
            blocking=blocking,
            notes=notes,
            narrative=narrative,
            errors=errors or {},
            version=version if version is not None else evaluation.version,
            message=message,
            tiers=TIER_CHOICES,
            tier_labels=TIER_LABELS,
            deadline=deadline_for(
                evaluation.state,
                {"submit": evaluation.cycle.deadline_submit},
                kind=evaluation.cycle.day_kind,
            ),
            returned=returned(evaluation),
            on_behalf=on_behalf(evaluation),
            money=money,
            upload_errors=upload_errors or [],
        ),
        status,
    )


# --- errors ----------------------------------------------------------------------------------


def error_page(exc: OperationError) -> tuple[str, int]:
    """An operation's refusal as a page with its status (404 looks like any missing page)."""
    from workflow.core.security import ERROR_TITLES

    message = "您要找的页面不存在，或您无权查看。" if exc.status == 404 else exc.message
    return (
        render_template(
            "error.html",
            code=exc.status,
            title=ERROR_TITLES.get(exc.status, "出错了"),
            message=message,
            details=exc.details,
        ),
        exc.status,
    )


def flash_error(exc: OperationError) -> None:
    flash(exc.message + ("：" + "；".join(exc.details) if exc.details else ""), "danger")
