"""The side-by-side score pages of the department review and the finance confirmation.

Both show, per indicator, the score of the stage before next to an input for this stage's
score and its reason. Which column is which is data (STAGES); the routes stay thin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from flask import render_template, request

from scoring.engine import RowScore
from workflow import policy
from workflow.core.extensions import db
from workflow.evaluations import operations, seal, views
from workflow.evaluations.forms import StageForm, parse_stage_form
from workflow.evaluations.history import timeline
from workflow.evaluations.operations import OperationError
from workflow.evaluations.views import PAGE_EVENTS, SIMPLE_EVENTS, deadline_for
from workflow.machine import Event
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
    next_key: str  # where the simple-event forms come back to


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
        "review",
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
        "finance",
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
        if typed is not None and row.code in typed.values:
            value = typed.values[row.code]
            reason = typed.reasons.get(row.code, "")
        result = results.get(row.code)
        entry = entries.get(row.code) or {}
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
) -> tuple[str, int]:
    scheme = views.scheme_for(evaluation)
    names = {ind.code: ind.path for ind in scheme.indicators}
    deadlines = {s: evaluation.cycle.deadline_for(s) for s in ("submit", "review", "confirm")}
    return (
        render_template(
            "review/stage.html",
            ev=evaluation,
            spec=spec,
            rows=stage_rows(evaluation, spec, typed),
            errors=typed.errors if typed else {},
            editable=policy.can(user, spec.edit_action, evaluation),
            events=policy.available_events(user, evaluation),
            simple_events=SIMPLE_EVENTS,
            page_events=PAGE_EVENTS,
            version=typed.version if typed and typed.version else evaluation.version,
            message=message,
            details=details or [],
            history=timeline(evaluation, names),
            deadline=deadline_for(evaluation.state, deadlines),
            # The confirmed grade is shown: its SM2 seal is checked (seal.py).
            seal=seal.check(evaluation, user),
        ),
        status,
    )


def fire_stage(
    user: Actor, evaluation_id: int, spec: StageSpec
) -> operations.FireResult | tuple[str, int]:
    """Parse the posted stage scores and fire the stage's event (approve or confirm).

    Returns the result, or the page to show again: with what was typed and the messages
    next to the rows on bad input or a refusal, a 404 page when it may not be seen.
    """
    try:
        evaluation = operations.load_for(user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    form = parse_stage_form(request.form, list(evaluation.rows), spec.base_attr)
    if not policy.can(user, spec.edit_action, evaluation):
        if not policy.could_edit_in_its_state(user, spec.edit_action, evaluation):
            return views.error_page(operations.Forbidden("您无权执行此操作"))
        # Someone else moved it on meanwhile: show the page again with what was typed.
        message = f"{operations.CONFLICT_MESSAGE}（当前状态：{evaluation.state_label}）"
        return render_stage(user, evaluation, spec, form, 409, message)
    if not form.valid:
        message = "得分调整有误，请按提示修改（已填写的内容均已保留）"
        return render_stage(user, evaluation, spec, form, 422, message)
    try:
        return operations.fire(
            user, evaluation_id, spec.event, scores=form.changes, expected_version=form.version
        )
    except OperationError as exc:
        db.session.rollback()
        current = db.session.get(Evaluation, evaluation_id)
        if exc.status == 404 or current is None:
            return views.error_page(exc)
        return render_stage(user, current, spec, form, exc.status, exc.message, exc.details)
