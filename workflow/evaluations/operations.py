"""Persistence glue for the evaluation workflow: one operation per request, one commit.

Every operation loads the evaluation, asks the policy and the state machine, runs the
scoring engine where the event needs it, writes with an optimistic version check, appends
an audit row and outbox rows, commits, and only then hands the outbox to Celery.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

import scoring
from scoring.numbers import q2
from workflow import machine, policy
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.outbox import new_message
from workflow.evaluations import checks
from workflow.machine import Event, State
from workflow.models import (
    Actor,
    AuditLog,
    Cycle,
    Evaluation,
    IndicatorScore,
    OutboxMessage,
    Project,
    utcnow,
)

CONFLICT_MESSAGE = "已被他人处理，请刷新后重试"


class OperationError(Exception):
    """A refusal with a Chinese message for the page, and the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(OperationError):
    status = 404


class Forbidden(OperationError):
    status = 403


class Conflict(OperationError):
    status = 409

    def __init__(self, message: str = CONFLICT_MESSAGE) -> None:
        super().__init__(message)


class ValidationFailed(OperationError):
    status = 422


@dataclass
class ScoreChange:
    """A reviewer's or finance officer's score for one indicator, with the reason."""

    score: Decimal | None
    reason: str = ""


@dataclass
class FireResult:
    evaluation: Evaluation
    transition: machine.Transition
    outbox_ids: list[int] = field(default_factory=list)


# --- loading -------------------------------------------------------------------------------


_PAGE_LOADS = (
    joinedload(Evaluation.project),
    joinedload(Evaluation.unit),
    joinedload(Evaluation.department),
    joinedload(Evaluation.cycle),
    joinedload(Evaluation.scheme_snapshot),
    joinedload(Evaluation.framework),
    joinedload(Evaluation.target_version),
)


def load_for(user: Actor, evaluation_id: int, action: str = policy.VIEW) -> Evaluation:
    """The evaluation if the user may do `action` on it. Not visible → 404, never 403,
    so that nobody learns what exists in another unit."""
    # Every evaluation page shows the project, unit, department and cycle, and scores with the
    # scheme: one statement instead of six lazy loads.
    evaluation = db.session.get(Evaluation, evaluation_id, options=_PAGE_LOADS)
    if evaluation is None or not policy.can_view(user, evaluation):
        raise NotFound("未找到该评价表")
    if not policy.can(user, action, evaluation):
        raise Forbidden("您无权执行此操作")
    return evaluation


def scheme_of(evaluation: Evaluation) -> scoring.Scheme:
    """The evaluation's frozen scheme (framework + its target version, or a snapshot from
    before 0003), parsed once per process and content."""
    key = evaluation.scheme_key
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = scoring.scheme_from_dict(evaluation.scheme)
        _PARSED[key] = parsed
        if len(_PARSED) > 4096:
            _PARSED.popitem(last=False)
    else:
        _PARSED.move_to_end(key)
    return parsed


# Parsing validates the whole tree against the JSON Schema (milliseconds); every project has
# its own targets now, so parsed schemes are kept by (framework, target version) digests.
_PARSED: OrderedDict[str, scoring.Scheme] = OrderedDict()


def scheme_from_snapshot(snapshot: Mapping[str, Any]) -> scoring.Scheme:
    """Parse a scheme held as JSON (a cycle's), once per process and content."""
    key = json.dumps(snapshot, sort_keys=True, ensure_ascii=False)
    return _parse_scheme(key)


@functools.lru_cache(maxsize=64)
def _parse_scheme(key: str) -> scoring.Scheme:
    return scoring.scheme_from_dict(json.loads(key))


def scorecard(
    evaluation: Evaluation, entries: Mapping[str, Any] | None = None
) -> scoring.Scorecard:
    return scoring.score(
        scheme_of(evaluation), entries if entries is not None else evaluation.entries
    )


# --- creation ------------------------------------------------------------------------------


def create_evaluation(
    project: Project, cycle: Cycle, entries: Mapping[str, Any] | None = None
) -> Evaluation:
    """A new draft evaluation of a project with approved targets (no commit).

    Its scheme is the cycle's framework plus the targets' version in force, frozen by
    reference: both are immutable rows.
    """
    from workflow.targets.operations import NO_APPROVED_TARGETS, version_in_force

    unit = project.unit
    if unit.parent_id is None:
        raise OperationError("项目所属单位没有主管部门")
    version = version_in_force(project, cycle)
    if version is None or cycle.framework is None:
        raise OperationError(NO_APPROVED_TARGETS)
    evaluation = Evaluation(
        project=project,
        cycle=cycle,
        unit_id=unit.id,
        department_id=unit.parent_id,
        state=State.DRAFT.value,
        version=1,
        framework=cycle.framework,
        target_version=version,
        entries=dict(entries or {}),
    )
    scheme = scheme_of(evaluation)
    evaluation.rows = [
        IndicatorScore(code=ind.code, position=i, weight=ind.weight)
        for i, ind in enumerate(scheme.indicators)
    ]
    db.session.add(evaluation)
    return evaluation


# --- saving a draft ------------------------------------------------------------------------

NARRATIVE_FIELDS = ("main_results", "problems", "measures", "filled_by", "phone", "unit_head")


# The audit event (and notice) of a draft saved for the unit by its department or finance.
ON_BEHALF_EVENT = policy.UPLOAD_ON_BEHALF


def save_draft(
    user: Actor,
    evaluation_id: int,
    entries: Mapping[str, Any],
    narrative: Mapping[str, str] | None = None,
    expected_version: int | None = None,
    on_behalf: str | None = None,
) -> Evaluation:
    """Save the draft as typed (the unit's EDIT). With `on_behalf`, the save is made for the
    unit by its department or finance (the policy's UPLOAD_ON_BEHALF): the text says what
    was saved (which file); it is audited, and the unit is told through the outbox."""
    begin_write()
    action = policy.EDIT if on_behalf is None else policy.UPLOAD_ON_BEHALF
    evaluation = load_for(user, evaluation_id, action)
    check_version(evaluation, expected_version)
    codes = {row.code for row in evaluation.rows}
    clean = {code: dict(value) for code, value in entries.items() if code in codes}
    merged = dict(evaluation.entries or {})
    merged.update(clean)
    evaluation.entries = merged
    for name in NARRATIVE_FIELDS:
        if narrative and name in narrative:
            setattr(evaluation, name, (narrative[name] or "").strip())
    evaluation.updated_at = utcnow()
    told: list[OutboxMessage] = []
    if on_behalf is not None:
        flush_or_conflict()  # the audit row names the version this save made
        _audit(evaluation, user, ON_BEHALF_EVENT, evaluation.state, on_behalf)
        payload = {"evaluation_id": evaluation.id, "event": ON_BEHALF_EVENT}
        told.append(new_message("notify", {**payload, "reason": on_behalf, "actor_id": user.id}))
        db.session.add_all(told)
    commit_or_conflict()
    dispatch_after_commit([m.id for m in told])
    return evaluation


# --- firing events -------------------------------------------------------------------------


def fire(
    user: Actor,
    evaluation_id: int,
    event: Event | str,
    *,
    reason: str | None = None,
    scores: Mapping[str, ScoreChange] | None = None,
    expected_version: int | None = None,
) -> FireResult:
    """Fire one event as this user; the single path for the web pages and the CLI."""
    begin_write()
    evaluation = load_for(user, evaluation_id)
    check_version(evaluation, expected_version)
    try:
        transition = machine.check(
            evaluation.state, event, user.role, policy.scopes_for(user, evaluation), reason
        )
    except machine.NotPermitted as exc:
        raise Forbidden(str(exc)) from exc
    except machine.TransitionError as exc:
        raise OperationError(str(exc)) from exc

    from_state = evaluation.state
    changes = _apply_effects(evaluation, transition, user, scores or {})
    _keep_opinion(evaluation, transition.event, (reason or "").strip() or None)
    evaluation.state = transition.target.value
    now = utcnow()
    evaluation.stage_entered_at = now
    evaluation.updated_at = now
    # The version check happens in the UPDATE (version_id_col); the new number is known after.
    flush_or_conflict()
    if transition.target is State.CONFIRMED:
        # The SM2 seal over what was confirmed, in the same transaction (evaluations/seal.py).
        from workflow.evaluations import seal

        seal.sign(evaluation, user)
    audit = _audit(evaluation, user, transition.event.value, from_state, reason, changes)
    outbox = _outbox(evaluation, transition, user, reason)
    commit_or_conflict()
    ids = [m.id for m in outbox]
    del audit
    dispatch_after_commit(ids)
    return FireResult(evaluation, transition, ids)


# Effects carried out after the commit, through the outbox (see _outbox).
_SIDE_EFFECTS = frozenset(
    {"pdf", "notify_reviewers", "notify_unit", "notify_finance", "notify_confirmed"}
)


def _apply_effects(
    evaluation: Evaluation,
    transition: machine.Transition,
    user: Actor,
    scores: Mapping[str, ScoreChange],
) -> list[dict[str, str]]:
    changes: list[dict[str, str]] = []
    scheme = scheme_of(evaluation)
    rows = {row.code: row for row in evaluation.rows}
    now = utcnow()
    for effect in transition.effects:
        if effect == "score_self":
            card = scoring.score(scheme, evaluation.entries or {})
            problems = blocking_problems(scheme, card, evaluation.entries or {})
            if problems:
                raise ValidationFailed("自评表尚有问题，不能提交", problems)
            for r in card.rows:
                row = rows[r.code]
                row.self_score = r.score
                row.applicable = r.applicable
            evaluation.self_total = card.total
            evaluation.self_grade = card.grade
            evaluation.submitted_at = now
            evaluation.submitted_by_id = user.id
        elif effect == "clear_self":
            for row in rows.values():
                row.self_score = None
            evaluation.self_total = None
            evaluation.self_grade = None
        elif effect == "seed_dept":
            for row in rows.values():
                row.dept_score = row.self_score
                row.dept_reason = None
            evaluation.dept_total = evaluation.self_total
            evaluation.dept_grade = evaluation.self_grade
        elif effect == "clear_dept":
            for row in rows.values():
                row.dept_score = None
                row.dept_reason = None
            evaluation.dept_total = None
            evaluation.dept_grade = None
        elif effect == "score_dept":
            changes = _apply_stage_scores(scheme, rows, scores, "self_score", "dept")
            total = scoring.stage_total(scheme, {c: r.dept_score for c, r in rows.items()})
            evaluation.dept_total = total
            evaluation.dept_grade = scoring.grade_for(total)
            evaluation.reviewed_at = now
            evaluation.reviewer_id = user.id
        elif effect == "score_final":
            for row in rows.values():
                if row.final_score is None:
                    row.final_score = row.dept_score
            changes = _apply_stage_scores(scheme, rows, scores, "dept_score", "final")
            total = scoring.stage_total(scheme, {c: r.final_score for c, r in rows.items()})
            evaluation.final_total = total
            evaluation.final_grade = scoring.grade_for(total)
            evaluation.confirmed_at = now
            evaluation.confirmer_id = user.id
        elif effect == "clear_final":
            for row in rows.values():
                row.final_score = None
                row.final_reason = None
            evaluation.final_total = None
            evaluation.final_grade = None
        elif effect not in _SIDE_EFFECTS:
            raise RuntimeError(f"state machine effect {effect!r} has no implementation")
    return changes


def _keep_opinion(evaluation: Evaluation, event: Event, text: str | None) -> None:
    """The review trail on the evaluation itself: the opinion of an approval or a
    confirmation (审核意见), and the reason of a return until the form moves forward again.
    The same text is the audit row's reason, so the history shows it too."""
    if event in (Event.RETURN, Event.FINANCE_RETURN):
        evaluation.returned_reason = text
    elif event in (Event.SUBMIT, Event.APPROVE, Event.CONFIRM):
        evaluation.returned_reason = None
    if event is Event.APPROVE:
        evaluation.dept_opinion = text
    elif event is Event.CONFIRM:
        evaluation.final_opinion = text
    elif event is Event.RETURN:
        evaluation.dept_opinion = None
    elif event is Event.REOPEN:
        evaluation.final_opinion = None


def _apply_stage_scores(
    scheme: scoring.Scheme,
    rows: Mapping[str, IndicatorScore],
    scores: Mapping[str, ScoreChange],
    base_attr: str,
    stage: str,
) -> list[dict[str, str]]:
    """Set one stage's column; every score that differs from the stage before needs a reason."""
    names = {ind.code: "／".join(p for p in ind.path if p) for ind in scheme.indicators}
    problems: list[str] = []
    changes: list[dict[str, str]] = []
    for code, change in scores.items():
        row = rows.get(code)
        if row is None:
            problems.append(f"未知指标：{code}")
            continue
        base = getattr(row, base_attr)
        new = change.score
        if new is not None:
            new = q2(new)
            if new < 0 or new > row.weight:
                problems.append(f"{names.get(code, code)}：得分须在 0 至 {row.weight} 之间")
                continue
            if not row.applicable:
                problems.append(f"{names.get(code, code)}：该指标不适用，不能打分")
                continue
        if new == (q2(base) if base is not None else None):
            # Unchanged against the stage before: clear any earlier override.
            setattr(row, f"{stage}_score", base)
            setattr(row, f"{stage}_reason", None)
            continue
        reason = (change.reason or "").strip()
        if not reason:
            problems.append(f"{names.get(code, code)}：调整得分须填写理由")
            continue
        setattr(row, f"{stage}_score", new)
        setattr(row, f"{stage}_reason", reason)
        changes.append(
            {"code": code, "from": _s(base), "to": _s(new), "reason": reason, "column": stage}
        )
    if problems:
        raise ValidationFailed("得分调整有误", problems)
    return changes


def blocking_problems(
    scheme: scoring.Scheme, card: scoring.Scorecard, entries: Mapping[str, Any]
) -> list[str]:
    """What stops a submit: the engine's blocking flags, and the field errors of a draft
    saved as typed (checks.py) that the engine has not already said."""
    flags = [f for f in card.flags if f.blocking]
    said: dict[str, list[str]] = {}
    for f in flags:
        said.setdefault(f.indicator or "", []).append(f.message)
    errors = checks.unsaid(checks.entry_errors(scheme, entries), said)
    return [_flag_text(scheme, f) for f in flags] + checks.problem_texts(scheme, errors)


def _flag_text(scheme: scoring.Scheme, flag: scoring.Flag) -> str:
    if flag.indicator:
        for ind in scheme.indicators:
            if ind.code == flag.indicator:
                return f"{ind.path[-1] or ind.path[-2]}：{flag.message}"
    return flag.message


def _s(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def totals_snapshot(evaluation: Evaluation) -> dict[str, str | None]:
    return {
        "self_total": _s(evaluation.self_total) or None,
        "self_grade": evaluation.self_grade,
        "dept_total": _s(evaluation.dept_total) or None,
        "dept_grade": evaluation.dept_grade,
        "final_total": _s(evaluation.final_total) or None,
        "final_grade": evaluation.final_grade,
    }


def _audit(
    evaluation: Evaluation | None,
    user: Actor,
    event: str,
    from_state: str | None,
    reason: str | None,
    changes: list[dict[str, str]] | None = None,
) -> AuditLog:
    scores: dict[str, Any] | None = None
    if evaluation is not None:
        scores = dict(totals_snapshot(evaluation))
        if changes:
            scores["changes"] = changes
    row = AuditLog(
        evaluation_id=evaluation.id if evaluation is not None else None,
        actor_id=user.id,
        actor_name=user.name,
        role=user.role,
        org_id=user.org_id,
        org_name=user.org.name if user.org else "",
        event=event,
        from_state=from_state,
        to_state=evaluation.state if evaluation is not None else None,
        version=evaluation.version if evaluation is not None else None,
        reason=(reason or "").strip() or None,
        scores=scores,
    )
    db.session.add(row)
    return row


def _outbox(
    evaluation: Evaluation, transition: machine.Transition, user: Actor, reason: str | None
) -> list[OutboxMessage]:
    messages: list[OutboxMessage] = []
    if "pdf" in transition.effects:
        messages.append(
            new_message("pdf", {"evaluation_id": evaluation.id, "version": evaluation.version})
        )
    if any(e.startswith("notify_") for e in transition.effects):
        messages.append(
            new_message(
                "notify",
                {
                    "evaluation_id": evaluation.id,
                    "event": transition.event.value,
                    "reason": (reason or "").strip() or None,
                    "actor_id": user.id,
                },
            )
        )
    db.session.add_all(messages)
    return messages


def check_version(row: Any, expected: int | None) -> None:
    """409 when the row (an evaluation, a re-check item: anything with a version) has moved
    on since the page was shown."""
    if expected is not None and row.version != expected:
        raise Conflict()


def flush_or_conflict() -> None:
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict() from exc


def commit_or_conflict() -> None:
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict() from exc


def dispatch_after_commit(ids: list[int]) -> None:
    """Hand the committed outbox messages to the broker (never waits on it)."""
    if not ids:
        return
    from flask import current_app

    if not current_app.config.get("OUTBOX_DISPATCH", True):
        return
    from workflow.core.outbox import dispatch

    dispatch(ids)


# --- administration helpers used by the CLI and admin pages ---------------------------------


def record_admin_event(
    user: Actor,
    event: str,
    evaluation: Evaluation | None = None,
    reason: str | None = None,
    from_state: str | None = None,
) -> None:
    """Audit a change made outside the state machine (an import into a later state)."""
    _audit(evaluation, user, event, from_state, reason)
