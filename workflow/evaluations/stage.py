"""The side-by-side score pages of the department review and the finance confirmation.

Both show, per indicator, the score of the stage before next to an input for this stage's
score and its reason. Which column is which is data (STAGES); the routes stay thin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from flask import render_template, request

import scoring
from scoring.engine import RowScore
from scoring.numbers import q2
from workflow import policy
from workflow.core.extensions import db
from workflow.evaluations import operations, seal, trail, views
from workflow.evaluations.forms import EVENT_REASON_MAX, StageForm, parse_stage_form
from workflow.evaluations.history import timeline
from workflow.evaluations.operations import OperationError
from workflow.evaluations.views import PAGE_EVENTS, SIMPLE_EVENTS, deadline_for
from workflow.machine import Event, Role
from workflow.models import Actor, Evaluation


@dataclass(frozen=True)
class StageSpec:
    key: str  # "dept" or "final"
    title: str
    base_attr: str  # the column this stage starts from
    base_label: str
    label: str
    edit_action: str  # policy action that allows typing scores
    event: Event  # the event that records them
    endpoint: str  # the page's POST endpoint
    total_endpoint: str  # the live total while scores are typed (htmx)
    next_key: str  # where the simple-event forms come back to
    role: Role  # the role whose page it is


STAGES = {
    "dept": StageSpec(
        "dept",
        "主管部门审核",
        "self_score",
        "自评得分",
        "审核得分",
        policy.REVIEW_EDIT,
        Event.APPROVE,
        "review.review_post",
        "review.total",
        "review",
        Role.REVIEWER,
    ),
    "final": StageSpec(
        "final",
        "财政确认",
        "dept_score",
        "审核得分",
        "确认得分",
        policy.FINANCE_EDIT,
        Event.CONFIRM,
        "finance.confirm_post",
        "finance.total",
        "finance",
        Role.FINANCE,
    ),
}


@dataclass
class StageRow:
    code: str
    path: tuple[str, ...]
    weight: Decimal
    applicable: bool
    self_score: Decimal | None
    base: Decimal | None
    value: str
    reason: str
    explanation: str
    actual: str
    deviation: str = ""  # the unit's 偏差原因分析及改进措施
    dept_score: Decimal | None = None
    dept_reason: str = ""
    changed: bool = False  # this stage's score (as typed) differs from the stage before


@dataclass(frozen=True)
class StageTotals:
    """This stage's total and grade as they would be with what was typed (the server's)."""

    total: Decimal
    grade: str
    changed: int  # rows whose score differs from the stage before


def stage_totals(evaluation: Evaluation, spec: StageSpec, typed: StageForm | None) -> StageTotals:
    """The total the event would record: the typed score of each row, else the score the
    stage already holds, else the stage before's (as the operation applies them)."""
    scores: dict[str, Decimal | None] = {}
    changed = 0
    for row in evaluation.rows:
        if not row.applicable:
            scores[row.code] = None
            continue
        base = getattr(row, spec.base_attr)
        value = getattr(row, f"{spec.key}_score")
        change = typed.changes.get(row.code) if typed else None
        if change is not None and change.score is not None:
            value = change.score
        if value is None:
            value = base
        scores[row.code] = value
        if value is not None and base is not None and value != base:
            changed += 1
    total = scoring.stage_total(views.scheme_for(evaluation), scores)
    return StageTotals(total, scoring.grade_for(total), changed)


def _fmt(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def stage_rows(
    evaluation: Evaluation, spec: StageSpec, typed: StageForm | None = None
) -> list[StageRow]:
    scheme = views.scheme_for(evaluation)
    names = {ind.code: ind.path for ind in scheme.indicators}
    card = views.scorecard(evaluation)
    results: Mapping[str, RowScore] = {r.code: r for r in card.rows}
    entries = evaluation.entries or {}
    rows: list[StageRow] = []
    for row in evaluation.rows:
        base = getattr(row, spec.base_attr)
        current = getattr(row, f"{spec.key}_score")
        current_reason = getattr(row, f"{spec.key}_reason") or ""
        if current is None:
            current = base
        value = _fmt(current)
        reason = current_reason
        score = current
        if typed is not None and row.code in typed.values:
            value = typed.values[row.code]
            reason = typed.reasons.get(row.code, "")
            change = typed.changes.get(row.code)
            if change is not None and change.score is not None:
                score = change.score
        result = results.get(row.code)
        entry = entries.get(row.code) or {}
        deviation = str(entry.get("reason") or "").strip() if isinstance(entry, dict) else ""
        rows.append(
            StageRow(
                code=row.code,
                path=names.get(row.code, ("", "", row.code)),
                weight=row.weight,
                applicable=row.applicable,
                self_score=row.self_score,
                base=base,
                value=value,
                reason=reason,
                explanation=result.explanation if result else "",
                actual=str(entry.get("actual") or entry.get("tier") or ""),
                deviation=deviation,
                dept_score=row.dept_score,
                dept_reason=row.dept_reason or "",
                changed=row.applicable
                and score is not None
                and base is not None
                and q2(score) != q2(base),
            )
        )
    return rows


def render_stage(
    user: Actor,
    evaluation: Evaluation,
    spec: StageSpec,
    typed: StageForm | None = None,
    status: int = 200,
    message: str | None = None,
    details: list[str] | None = None,
    *,
    opinion: str = "",
    event_errors: dict[str, str] | None = None,
    event_reasons: dict[str, str] | None = None,
    template: str = "review/stage.html",
) -> tuple[str, int]:
    scheme = views.scheme_for(evaluation)
    names = {ind.code: ind.path for ind in scheme.indicators}
    deadlines = {s: evaluation.cycle.deadline_for(s) for s in ("submit", "review", "confirm")}
    rows = stage_rows(evaluation, spec, typed)
    return (
        render_template(
            template,
            ev=evaluation,
            spec=spec,
            rows=rows,
            changed_rows=[r for r in rows if r.changed],
            errors=typed.errors if typed else {},
            editable=policy.can(user, spec.edit_action, evaluation),
            events=policy.available_events(user, evaluation),
            simple_events=SIMPLE_EVENTS,
            page_events=PAGE_EVENTS,
            version=typed.version if typed and typed.version else evaluation.version,
            message=message,
            details=details or [],
            history=timeline(evaluation, names),
            deadline=deadline_for(evaluation.state, deadlines, kind=evaluation.cycle.day_kind),
            totals=stage_totals(evaluation, spec, typed),
            opinion=opinion,
            event_errors=event_errors or {},
            event_reasons=event_reasons or {},
            evidence=trail.evidence_items(evaluation),
            money=views.money,
            **trail.trail_context(evaluation),
            # The confirmed grade is shown: its SM2 seal is checked (seal.py).
            seal=seal.check(evaluation, user),
        ),
        status,
    )


def render_stage_total(user: Actor, evaluation_id: int, spec: StageSpec) -> tuple[str, int]:
    """The live total while scores are typed (htmx): computed here, never in the browser."""
    try:
        evaluation = operations.load_for(user, evaluation_id, spec.edit_action)
    except OperationError as exc:
        return views.error_page(exc)
    form = parse_stage_form(request.form, list(evaluation.rows), spec.base_attr)
    # A score that does not parse is left out (the stage's value counts); a changed score
    # still waiting for its reason counts: the total shows what the scores would give.
    bad_scores = any(name.startswith("s-") for name in form.errors)
    totals = stage_totals(evaluation, spec, form)
    return render_template(
        "review/_stage_total.html", spec=spec, totals=totals, bad_scores=bad_scores
    ), 200


def _opinion() -> tuple[str, str | None]:
    text = (request.form.get("opinion") or "").strip()
    if len(text) > EVENT_REASON_MAX:
        return text, f"意见不能超过 {EVENT_REASON_MAX} 个字"
    return text, None


def fire_stage(
    user: Actor, evaluation_id: int, spec: StageSpec
) -> operations.FireResult | tuple[str, int]:
    """Parse the posted stage scores; show the confirmation page (the new totals and grade,
    what changed, the opinion); on its 确认 fire the stage's event (approve or confirm).

    Returns the result, or the page to show: with what was typed and the messages next to
    the rows on bad input or a refusal, a 404 page when it may not be seen.
    """
    try:
        evaluation = operations.load_for(user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    form = parse_stage_form(request.form, list(evaluation.rows), spec.base_attr)
    opinion, opinion_error = _opinion()
    step = request.form.get("do", "check")
    if not policy.can(user, spec.edit_action, evaluation):
        if not policy.could_edit_in_its_state(user, spec.edit_action, evaluation):
            return views.error_page(operations.Forbidden("您无权执行此操作"))
        # Someone else moved it on meanwhile: show the page again with what was typed.
        message = f"{operations.CONFLICT_MESSAGE}（当前状态：{evaluation.state_label}）"
        return render_stage(user, evaluation, spec, form, 409, message, opinion=opinion)
    if opinion_error:
        form.errors["opinion"] = opinion_error
    if not form.valid:
        message = "得分调整有误，请按提示修改（已填写的内容均已保留）"
        return render_stage(user, evaluation, spec, form, 422, message, opinion=opinion)
    if step == "back":
        return render_stage(user, evaluation, spec, form, opinion=opinion)
    if step != "fire":
        return render_stage(
            user, evaluation, spec, form, opinion=opinion, template="review/stage_confirm.html"
        )
    try:
        return operations.fire(
            user,
            evaluation_id,
            spec.event,
            reason=opinion or None,
            scores=form.changes,
            expected_version=form.version,
        )
    except OperationError as exc:
        db.session.rollback()
        current = db.session.get(Evaluation, evaluation_id)
        if exc.status == 404 or current is None:
            return views.error_page(exc)
        return render_stage(
            user, current, spec, form, exc.status, exc.message, exc.details, opinion=opinion
        )
