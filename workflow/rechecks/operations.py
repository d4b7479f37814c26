"""What changes a re-check: drawing a batch, assigning re-checkers, firing the re-check's
events with its 复核 scores. One commit per request; every change of state writes an audit
row; notices go through the outbox and are handed out after the commit."""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from flask import current_app
from sqlalchemy import ARRAY, BigInteger, any_, func, literal, select
from sqlalchemy.orm import joinedload

import scoring
from scoring.numbers import q2
from workflow import machine, policy
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.outbox import new_message
from workflow.evaluations.operations import (
    Conflict,
    Forbidden,
    NotFound,
    OperationError,
    ScoreChange,
    ValidationFailed,
    check_version,
    commit_or_conflict,
    dispatch_after_commit,
    flush_or_conflict,
    scheme_of,
)
from workflow.machine import RecheckEvent, RecheckState
from workflow.models import (
    Actor,
    AuditLog,
    Cycle,
    Evaluation,
    EvidenceRequest,
    Org,
    RecheckBatch,
    RecheckItem,
    RecheckScore,
    RiskFacts,
    User,
    utcnow,
)
from workflow.rechecks import facts, risk, sampling

__all__ = ["Conflict", "Forbidden", "NotFound", "OperationError", "ValidationFailed"]


@dataclass(frozen=True)
class Drawn:
    population: int
    picked: list[tuple[int, int, int, list[risk.Finding]]]  # (evaluation, unit, dept, why)


def draw_sample(
    cycle_id: int,
    method: str,
    seed: int,
    *,
    rate: float | None = None,
    count: int | None = None,
    thresholds: risk.Thresholds | None = None,
    per_reason: float | None = None,
) -> Drawn:
    """Risk rules over every submitted evaluation of the cycle, then the sample. Brings the
    cycle's risk facts up to date first (in the caller's transaction). The benchmark runs
    this over a million evaluations."""
    limits = thresholds or facts.thresholds()
    boost = (
        per_reason
        if per_reason is not None
        else float(current_app.config.get("RISK_WEIGHT_PER_REASON", 20))
    )
    e, f = Evaluation.__table__.c, RiskFacts.__table__.c
    # The database says which rules fire (the rules' data compiled to SQL: a bit mask per
    # evaluation); Python samples, weighting by the number of bits, and writes the reasons of
    # the sampled ones only. The same scan says which facts are missing or older than their
    # evaluation: in the usual case (none) the batch reads the evaluations once.
    stale = f.evaluation_version.is_(None) | (f.evaluation_version != e.version)
    query = (
        select(
            e.id,
            e.department_id,
            func.coalesce(e.self_grade, ""),
            facts.mask_expression(limits),  # 0 without facts (the outer join)
            stale,
            e.unit_id,
        )
        .select_from(Evaluation.__table__.outerjoin(RiskFacts.__table__, f.evaluation_id == e.id))
        .where(e.cycle_id == cycle_id, e.state.in_(facts.SUBMITTED_STATES))
        # In id order, as the sampler wants them: PostgreSQL then walks both primary keys
        # (a merge join) instead of hashing a million facts (twice as fast at that size).
        .order_by(e.id)
    )
    candidates = _plain_rows(query)
    if any(row[4] for row in candidates):
        facts.refresh(cycle_id=cycle_id)
        candidates = _plain_rows(query)
    # (id, department, grade, mask, stale, unit): the sampler reads the first four by
    # position, the mask as an index into the weights.
    weights = [risk.weight(count_, boost) for count_ in facts.BITS]
    ids = sampling.draw(candidates, method, seed, rate=rate, count=count, weights=weights)
    rows = [candidates[bisect_left(candidates, i, key=itemgetter(0))] for i in ids]
    # The reasons, for the sampled evaluations that some rule flags.
    flagged = [row[0] for row in rows if row[3]]
    values: dict[int, risk.Facts] = {}
    for chunk in _id_chunks(flagged):
        query = select(f.evaluation_id, *(f[name] for name in facts.FACT_FIELDS))
        for ev_id, *fact_values in _plain_rows(query.where(_among(f.evaluation_id, chunk))):
            values[ev_id] = risk.Facts(*fact_values)
    picked = [
        (
            ev_id,
            unit_id,
            department_id,
            risk.assess_mask(bits, values[ev_id], limits) if bits else [],
        )
        for ev_id, department_id, _grade, bits, _stale, unit_id in rows
    ]
    return Drawn(len(candidates), picked)


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _plain_rows(query: Any) -> list[tuple[Any, ...]]:
    """Plain tuples from the driver, read in one call: rows built one by one cost more than
    the query (a million of them)."""
    return db.session.execute(query).cursor.fetchall()  # type: ignore[no-any-return]


def _id_chunks(ids: list[int]) -> list[list[int]]:
    """One array on PostgreSQL; IN lists of 5,000 elsewhere."""
    size = (len(ids) or 1) if _postgresql() else 5000
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _among(column: Any, ids: list[int]) -> Any:
    if _postgresql():
        return column == any_(literal(ids, ARRAY(BigInteger)))
    return column.in_(ids)


def create_batch(
    user: Actor,
    cycle_id: int,
    name: str,
    method: str,
    seed: int,
    *,
    rate: Decimal | None = None,
    count: int | None = None,
) -> RecheckBatch:
    begin_write()
    if not policy.can_manage_rechecks(user):
        raise Forbidden("您无权执行此操作")
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("未找到该评价任务")
    try:
        drawn = draw_sample(
            cycle_id, method, seed, rate=float(rate) if rate is not None else None, count=count
        )
    except sampling.SamplingError as exc:
        db.session.rollback()
        raise ValidationFailed(str(exc)) from exc
    if not drawn.picked:
        db.session.rollback()
        raise ValidationFailed("该评价任务还没有已提交自评的评价表，无法抽样")
    batch = RecheckBatch(
        cycle_id=cycle_id,
        name=name.strip() or f"{cycle.name} 抽查复核",
        method=method,
        rate=rate,
        sample_count=count,
        seed=seed,
        population=drawn.population,
        created_by_id=user.id,
    )
    db.session.add(batch)
    db.session.flush()
    _insert_items(batch.id, drawn.picked)
    # The seed and the method go into the audit: anyone can draw the same sample again.
    _audit(
        user,
        None,
        "recheck_batch",
        None,
        None,
        f"抽样：{sampling.METHODS[method]}，"
        + (f"比例 {rate * 100:.2f}%" if rate is not None else f"数量 {count}")
        + f"，种子 {seed}，总体 {drawn.population} 份，抽中 {len(drawn.picked)} 份",
        {
            "batch_id": batch.id,
            "method": method,
            "seed": seed,
            "rate": None if rate is None else str(rate),
            "count": count,
            "population": drawn.population,
            "evaluations": [p[0] for p in drawn.picked],
        },
    )
    db.session.commit()
    return batch


def _insert_items(batch_id: int, picked: list[tuple[int, int, int, list[risk.Finding]]]) -> None:
    """The batch's items as rows, not ORM objects (5% of a million evaluations is 50,000):
    on PostgreSQL one COPY in the transaction (a third faster than one INSERT ... SELECT;
    the rest is the foreign keys' checks), elsewhere an executemany."""
    now = utcnow()
    state = RecheckState.ASSIGNED.value
    risks = [[{"key": w.key, "label": w.label, "reason": w.reason} for w in p[3]] for p in picked]
    encode = json.JSONEncoder(ensure_ascii=False).encode
    if _postgresql():
        driver = db.session.connection().connection.driver_connection
        assert driver is not None
        with driver.cursor().copy(  # type: ignore[attr-defined]
            "COPY recheck_items (batch_id, evaluation_id, unit_id, department_id, state, "
            "version, risks, updated_at) FROM STDIN"
        ) as copy:
            for (evaluation_id, unit_id, department_id, _), why in zip(picked, risks, strict=True):
                text_risks = encode(why) if why else "[]"
                row = (batch_id, evaluation_id, unit_id, department_id, state, 1, text_risks, now)
                copy.write_row(row)
        return
    rows = [
        {
            "batch_id": batch_id,
            "evaluation_id": evaluation_id,
            "unit_id": unit_id,
            "department_id": department_id,
            "state": state,
            "version": 1,
            "risks": why,
            "updated_at": now,
        }
        for (evaluation_id, unit_id, department_id, _), why in zip(picked, risks, strict=True)
    ]
    db.session.execute(RecheckItem.__table__.insert(), rows)


# --- one item -------------------------------------------------------------------------------


def load_item(user: Actor, item_id: int) -> RecheckItem:
    item = db.session.get(
        RecheckItem,
        item_id,
        options=(joinedload(RecheckItem.evaluation), joinedload(RecheckItem.batch)),
    )
    if item is None or not policy.can_view_recheck(user, item):
        raise NotFound("未找到该复核事项")
    return item


def assign(
    user: Actor, item_id: int, rechecker_id: int, expected_version: int | None = None
) -> RecheckItem:
    """Finance assigns (or re-assigns, before the re-check is done) a re-checker."""
    begin_write()
    if not policy.can_manage_rechecks(user):
        raise NotFound("未找到该复核事项")
    item = load_item(user, item_id)
    check_version(item, expected_version)
    if item.state == RecheckState.DONE.value:
        raise OperationError("复核已完成，不能改派")
    person = db.session.get(User, rechecker_id)
    if person is None or not person.active:
        raise ValidationFailed("未找到该复核人员")
    org = db.session.get(Org, person.org_id)
    why = policy.rechecker_conflict(
        person.role,
        person.org_id,
        org.parent_id if org else None,
        item.unit_id,
        item.department_id,
    )
    if why:
        raise ValidationFailed(f"不能指派 {person.name}：{why}")
    before = item.rechecker_id
    item.rechecker_id = person.id
    item.updated_at = utcnow()
    flush_or_conflict()
    _audit(
        user,
        item,
        "recheck_assign",
        item.state,
        item.state,
        f"指派复核人：{person.name}（{person.role_label}）",
        {"rechecker_id": person.id, "previous_rechecker_id": before},
    )
    messages = [_notify(item, "recheck_assign", user, None, person.id)]
    commit_or_conflict()
    dispatch_after_commit([m.id for m in messages])
    return item


def save_scores(
    user: Actor,
    item_id: int,
    scores: Mapping[str, ScoreChange],
    expected_version: int | None = None,
) -> RecheckItem:
    """Keep the 复核 column as typed (no reasons checked yet): the re-checker's draft."""
    begin_write()
    item = load_item(user, item_id)
    if not policy.can_recheck(user, policy.RECHECK_SCORE, item):
        raise Forbidden("当前状态不能填写复核得分")
    check_version(item, expected_version)
    _store_scores(item, scores, require_reasons=False)
    item.updated_at = utcnow()
    commit_or_conflict()
    return item


def fire(
    user: Actor,
    item_id: int,
    event: RecheckEvent | str,
    *,
    reason: str | None = None,
    scores: Mapping[str, ScoreChange] | None = None,
    expected_version: int | None = None,
    request_id: int | None = None,
    on_close: Any = None,
) -> RecheckItem:
    """Fire one re-check event as this user; the single path for pages and commands.
    ``on_close(request)`` adds to each request an answer closes (its files, answers.py)."""
    begin_write()
    item = load_for_event(user, item_id)
    check_version(item, expected_version)
    try:
        transition = machine.check_recheck_event(
            item.state, event, user.role, policy.recheck_scopes_for(user, item), reason
        )
    except machine.NotPermitted as exc:
        raise Forbidden(str(exc)) from exc
    except machine.TransitionError as exc:
        raise OperationError(str(exc)) from exc
    from_state = item.state
    text = (reason or "").strip() or None
    changes: list[dict[str, str]] = []
    messages = []
    now = utcnow()
    for effect in transition.effects:
        if effect == "open_request":
            db.session.add(
                EvidenceRequest(
                    item=item,
                    evaluation_id=item.evaluation_id,
                    question=text or "",
                    asked_by_id=user.id,
                    asked_at=now,
                )
            )
        elif effect == "close_request":
            open_requests = [r for r in item.requests if r.answered_at is None]
            if request_id is not None:
                open_requests = [r for r in open_requests if r.id == request_id]
            if not open_requests:
                raise Conflict()
            for req in open_requests:
                req.answer = text
                req.answered_by_id = user.id
                req.answered_at = now
                if on_close is not None:
                    on_close(req)
        elif effect == "score_recheck":
            if scores is not None:
                _store_scores(item, scores, require_reasons=True)
            changes = _finish(item)
            item.completed_at = now
        elif effect == "clear_recheck":
            item.recheck_total = None
            item.recheck_grade = None
            item.conclusion = None
            item.completed_at = None
        elif effect == "notify_unit":
            messages.append(("recheck_request", None))
        elif effect == "notify_rechecker":
            messages.append(("recheck_answer", item.rechecker_id))
        elif effect == "notify_result":
            messages.append(("recheck_result", None))
        else:
            raise RuntimeError(f"re-check effect {effect!r} has no implementation")
    item.state = transition.target.value
    item.updated_at = now
    flush_or_conflict()
    _audit(
        user,
        item,
        f"recheck_{transition.event.value}",
        from_state,
        item.state,
        text,
        {"changes": changes} if changes else {},
    )
    rows = [_notify(item, kind, user, text, to) for kind, to in messages]
    commit_or_conflict()
    dispatch_after_commit([m.id for m in rows])
    return item


def load_for_event(user: Actor, item_id: int) -> RecheckItem:
    item = db.session.get(RecheckItem, item_id)
    if item is None:
        raise NotFound("未找到该复核事项")
    scopes = policy.recheck_scopes_for(user, item)
    if not scopes:
        raise NotFound("未找到该复核事项")
    return item


def _base_scores(item: RecheckItem) -> dict[str, tuple[Decimal | None, Decimal, bool]]:
    """Each indicator's self score (what 复核 is measured against), weight, applicability."""
    return {row.code: (row.self_score, row.weight, row.applicable) for row in item.evaluation.rows}


def _store_scores(
    item: RecheckItem, scores: Mapping[str, ScoreChange], *, require_reasons: bool
) -> None:
    base = _base_scores(item)
    names = {
        ind.code: "／".join(p for p in ind.path if p)
        for ind in scheme_of(item.evaluation).indicators
    }
    existing = {s.code: s for s in item.scores}
    problems: list[str] = []
    for code, change in scores.items():
        if code not in base:
            problems.append(f"未知指标：{code}")
            continue
        self_score, weight, applicable = base[code]
        new = None if change.score is None else q2(change.score)
        label = names.get(code, code)
        if new is not None and (new < 0 or new > weight):
            problems.append(f"{label}：复核得分须在 0 至 {weight} 之间")
            continue
        if new is not None and not applicable:
            problems.append(f"{label}：该指标不适用，不能打分")
            continue
        same = new is None or new == (q2(self_score) if self_score is not None else None)
        why = (change.reason or "").strip()
        if require_reasons and not same and not why:
            problems.append(f"{label}：复核得分与自评不同，须填写理由")
            continue
        row = existing.get(code)
        if row is None:
            row = RecheckScore(code=code)
            item.scores.append(row)
            existing[code] = row
        row.score = None if same else new
        row.reason = None if same else (why or None)
    if problems:
        raise ValidationFailed("复核得分有误", problems)


def _finish(item: RecheckItem) -> list[dict[str, str]]:
    """The 复核 total and grade from the column (self score where not re-scored); where the
    grade differs from the one the evaluation reached, the conclusion says why."""
    evaluation = item.evaluation
    base = _base_scores(item)
    chosen = {s.code: s for s in item.scores if s.score is not None}
    column: dict[str, Decimal | None] = {}
    changes: list[dict[str, str]] = []
    for code, (self_score, _weight, applicable) in base.items():
        if not applicable:
            column[code] = None
            continue
        if code in chosen:
            column[code] = chosen[code].score
            changes.append(
                {
                    "code": code,
                    "from": "" if self_score is None else str(self_score),
                    "to": str(chosen[code].score),
                    "reason": chosen[code].reason or "",
                    "column": "recheck",
                }
            )
        else:
            column[code] = self_score
    scheme = scheme_of(evaluation)
    total = scoring.stage_total(scheme, column)
    grade = scoring.grade_for(total)
    item.recheck_total = total
    item.recheck_grade = grade
    _, reached = evaluation.current_total()
    if reached and grade != reached:
        names = {ind.code: ind.path[-1] or ind.path[-2] for ind in scheme.indicators}
        why = "；".join(
            f"{names.get(c['code'], c['code'])} {c['from']}→{c['to']}（{c['reason']}）"
            for c in changes
        )
        item.conclusion = (
            f"复核得分 {total} 分，等级由「{reached}」调整为「{grade}」，以复核等级为最终等级。"
            + (f"调整的指标：{why}" if why else "")
        )
    else:
        item.conclusion = None
    return changes


# --- audit, outbox, versions ---------------------------------------------------------------


def _audit(
    user: Actor,
    item: RecheckItem | None,
    event: str,
    from_state: str | None,
    to_state: str | None,
    reason: str | None,
    extra: dict[str, Any],
) -> None:
    # The evaluation's own state columns stay for the evaluation's moves (its history and
    # the dashboard's stage times read them); the re-check's states go with the scores.
    scores: dict[str, Any] = dict(extra)
    if item is not None:
        scores.update(
            {
                "recheck_from": from_state,
                "recheck_to": to_state,
                "recheck_item_id": item.id,
                "batch_id": item.batch_id,
                "recheck_total": None if item.recheck_total is None else str(item.recheck_total),
                "recheck_grade": item.recheck_grade,
            }
        )
    db.session.add(
        AuditLog(
            evaluation_id=item.evaluation_id if item is not None else None,
            actor_id=user.id,
            actor_name=user.name,
            role=user.role,
            org_id=user.org_id,
            org_name=user.org.name if user.org else "",
            event=event,
            version=item.version if item is not None else None,
            reason=reason,
            scores=scores,
        )
    )


def _notify(
    item: RecheckItem, kind: str, user: Actor, reason: str | None, to_user: int | None
) -> Any:
    message = new_message(
        "notify",
        {
            "recheck_item_id": item.id,
            "event": kind,
            "reason": reason,
            "actor_id": user.id,
            "to_user_id": to_user,
        },
    )
    db.session.add(message)
    return message
