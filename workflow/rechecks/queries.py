"""What the re-check pages read: batches, items, the re-check page, the risk badges of a
list of evaluations, the panel on an evaluation's page, the final grade after re-checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload

import scoring
from workflow import machine, policy
from workflow.core.extensions import db
from workflow.evaluations.operations import scheme_of
from workflow.evaluations.queries import Page
from workflow.machine import RecheckState, Role
from workflow.models import (
    Actor,
    Cycle,
    Evaluation,
    EvidenceRequest,
    Org,
    Project,
    RecheckBatch,
    RecheckItem,
    User,
)
from workflow.rechecks import facts, risk, sampling


@dataclass
class BatchRow:
    id: int
    name: str
    cycle: str
    method: str
    size: str
    seed: int
    population: int
    items: int
    done: int
    created_at: str


def batches() -> list[BatchRow]:
    counts = dict(
        db.session.execute(
            select(RecheckItem.batch_id, func.count()).group_by(RecheckItem.batch_id)
        ).all()
    )
    done = dict(
        db.session.execute(
            select(RecheckItem.batch_id, func.count())
            .where(RecheckItem.state == RecheckState.DONE.value)
            .group_by(RecheckItem.batch_id)
        ).all()
    )
    rows = db.session.scalars(
        select(RecheckBatch)
        .options(joinedload(RecheckBatch.cycle))
        .order_by(RecheckBatch.id.desc())
    )
    return [
        BatchRow(
            b.id,
            b.name,
            b.cycle.name,
            sampling.METHODS.get(b.method, b.method),
            f"{b.rate * 100:.2f}%" if b.rate is not None else f"{b.sample_count} 份",
            b.seed,
            b.population,
            counts.get(b.id, 0),
            done.get(b.id, 0),
            b.created_at.strftime("%Y-%m-%d %H:%M"),
        )
        for b in rows
    ]


def cycles() -> list[tuple[int, str]]:
    return [(c.id, c.name) for c in db.session.scalars(select(Cycle).order_by(Cycle.year.desc()))]


@dataclass
class ItemRow:
    id: int
    version: int
    evaluation_id: int
    project: str
    unit: str
    department: str
    state: str
    state_label: str
    self_total: Decimal | None
    self_grade: str | None
    reached_grade: str | None
    recheck_total: Decimal | None
    recheck_grade: str | None
    rechecker: str
    risks: list[dict[str, str]]
    changed: bool


def _item_row(item: RecheckItem) -> ItemRow:
    ev = item.evaluation
    _, reached = ev.current_total()
    return ItemRow(
        item.id,
        item.version,
        ev.id,
        ev.project.name,
        item.unit.name,
        item.department.name,
        item.state,
        item.state_label,
        ev.self_total,
        ev.self_grade,
        reached,
        item.recheck_total,
        item.recheck_grade,
        item.rechecker.name if item.rechecker else "",
        list(item.risks or []),
        bool(item.recheck_grade and reached and item.recheck_grade != reached),
    )


_ITEM_LOADS = (
    joinedload(RecheckItem.evaluation).joinedload(Evaluation.project),
    joinedload(RecheckItem.unit),
    joinedload(RecheckItem.department),
    joinedload(RecheckItem.rechecker),
)


def batch_items(batch_id: int) -> tuple[RecheckBatch, list[ItemRow]] | None:
    batch = db.session.get(RecheckBatch, batch_id)
    if batch is None:
        return None
    items = db.session.scalars(
        select(RecheckItem)
        .where(RecheckItem.batch_id == batch_id)
        .options(*_ITEM_LOADS)
        .order_by(RecheckItem.id)
    ).all()
    return batch, [_item_row(i) for i in items]


def my_items(user: Actor) -> list[ItemRow]:
    items = db.session.scalars(
        select(RecheckItem)
        .where(RecheckItem.rechecker_id == user.id)
        .options(*_ITEM_LOADS)
        .order_by(RecheckItem.state == RecheckState.DONE.value, RecheckItem.id)
    ).all()
    return [_item_row(i) for i in items]


def rechecker_choices(item: RecheckItem) -> list[tuple[int, str]]:
    """The accounts that may re-check this item: finance officers, and experts who do not
    belong to the unit or its department."""
    people = db.session.execute(
        select(User.id, User.name, User.role, User.org_id, Org.parent_id, Org.name)
        .join(Org, Org.id == User.org_id)
        .where(User.role.in_([r.value for r in machine.RECHECKERS]), User.active.is_(True))
        .order_by(User.role, User.name)
    ).all()
    return [
        (p.id, f"{p.name}（{machine.ROLE_LABELS[Role(p.role)]} · {p[5]}）")
        for p in people
        if policy.rechecker_conflict(
            p.role, p.org_id, p.parent_id, item.unit_id, item.department_id
        )
        is None
    ]


@dataclass
class IndicatorLine:
    code: str
    level1: str
    level2: str
    name: str
    target: str
    actual: str
    weight: Decimal
    applicable: bool
    self_score: Decimal | None
    dept_score: Decimal | None
    final_score: Decimal | None
    recheck_score: Decimal | None
    recheck_reason: str
    explanation: str


@dataclass
class ItemPage:
    item: RecheckItem
    evaluation: Evaluation
    lines: list[IndicatorLine]
    requests: list[EvidenceRequest]
    events: list[machine.RecheckTransition]
    can_score: bool
    evidence: list[tuple[int, str]] = field(default_factory=list)


def item_page(user: Actor, item: RecheckItem) -> ItemPage:
    evaluation = item.evaluation
    scheme = scheme_of(evaluation)
    card = scoring.score(scheme, evaluation.entries or {})
    explained = {r.code: r for r in card.rows}
    chosen = {s.code: s for s in item.scores}
    rows = {row.code: row for row in evaluation.rows}
    lines: list[IndicatorLine] = []
    for ind in scheme.indicators:
        row = rows.get(ind.code)
        if row is None:
            continue
        r = explained.get(ind.code)
        entry = (evaluation.entries or {}).get(ind.code) or {}
        mine = chosen.get(ind.code)
        lines.append(
            IndicatorLine(
                ind.code,
                ind.path[0],
                ind.path[1],
                ind.path[2] or ind.path[1],
                ind.target.text or "",
                str(entry.get("actual") or entry.get("tier") or "")
                if isinstance(entry, dict)
                else "",
                row.weight,
                row.applicable,
                row.self_score,
                row.dept_score,
                row.final_score,
                mine.score if mine else None,
                (mine.reason or "") if mine else "",
                r.explanation if r is not None else "",
            )
        )
    return ItemPage(
        item,
        evaluation,
        lines,
        list(item.requests),
        policy.available_recheck_events(user, item),
        policy.can_recheck(user, policy.RECHECK_SCORE, item),
        [(e.id, e.original_name) for e in evaluation.evidence],
    )


# --- badges and panels on other features' pages ----------------------------------------------


@dataclass(frozen=True)
class Badge:
    evaluation_id: int
    labels: tuple[str, ...]
    reasons: tuple[str, ...]


def _badges(found: dict[int, list[risk.Finding]]) -> dict[int, Badge]:
    return {
        ev_id: Badge(ev_id, tuple(f.label for f in why), tuple(f.reason for f in why))
        for ev_id, why in found.items()
        if why
    }


class RiskRow(NamedTuple):
    """A row of a queue's risk panel: all it shows, so that it is its own cache key."""

    id: int
    project: str
    unit: str
    labels: tuple[str, ...]
    reasons: tuple[str, ...]


def risk_rows(page: Page) -> list[RiskRow]:
    """The rows of a list page that carry risk findings, in the page's order, with their
    badges (the queues read the facts with their rows: facts.list_columns)."""
    badges = _badges(facts.findings_from(page))
    return [
        RiskRow(r.id, r.project, r.unit, badges[r.id].labels, badges[r.id].reasons)
        for r in page.rows
        if r.id in badges
    ]


@dataclass
class EvaluationPanel:
    risks: list[risk.Finding]
    open_requests: list[tuple[int, int, int, str]]  # (request id, item id, item version, question)
    answered: list[EvidenceRequest]
    result: RecheckItem | None
    can_answer: bool
    show_risks: bool
    can_see_files: bool = False


def evaluation_panel(user: Actor, evaluation: Evaluation) -> EvaluationPanel | None:
    """What the evaluation page shows of re-checks: risk reasons (department, finance), open
    evidence requests with the answer form (the unit), the re-check result (everyone who
    sees the evaluation)."""
    if not policy.can_view(user, evaluation):
        return None
    role = Role(user.role)
    show_risks = role in (Role.REVIEWER, Role.FINANCE, Role.SYSADMIN)
    risks = facts.findings_for([evaluation.id]).get(evaluation.id, []) if show_risks else []
    items = db.session.scalars(
        select(RecheckItem)
        .where(RecheckItem.evaluation_id == evaluation.id)
        .order_by(RecheckItem.id.desc())
    ).all()
    open_requests: list[tuple[int, int, int, str]] = []
    answered: list[EvidenceRequest] = []
    can_answer = False
    for item in items:
        for req in item.requests:
            if req.answered_at is None:
                open_requests.append((req.id, item.id, item.version, req.question))
                can_answer = can_answer or policy.can_recheck(
                    user, machine.RecheckEvent.ANSWER.value, item
                )
            else:
                answered.append(req)
    result = next((i for i in items if i.state == RecheckState.DONE.value), None)
    if not (risks or open_requests or answered or result):
        return None
    files = any(policy.can_see_recheck_answers(user, i) for i in items)
    return EvaluationPanel(risks, open_requests, answered, result, can_answer, show_risks, files)


def final_grades(cycle_id: int) -> dict[int, tuple[Decimal | None, str | None, str]]:
    """evaluation id -> (total, grade, source) for every submitted evaluation of the cycle:
    a completed re-check's grade where there is one (复核), else the stage it reached."""
    rows = db.session.execute(
        select(
            Evaluation.id,
            Evaluation.self_total,
            Evaluation.self_grade,
            Evaluation.dept_total,
            Evaluation.dept_grade,
            Evaluation.final_total,
            Evaluation.final_grade,
        ).where(Evaluation.cycle_id == cycle_id, Evaluation.state.in_(facts.SUBMITTED_STATES))
    ).all()
    out: dict[int, tuple[Decimal | None, str | None, str]] = {}
    for r in rows:
        if r.final_grade:
            out[r.id] = (r.final_total, r.final_grade, "财政确认")
        elif r.dept_grade:
            out[r.id] = (r.dept_total, r.dept_grade, "主管部门审核")
        else:
            out[r.id] = (r.self_total, r.self_grade, "自评")
    done = db.session.execute(
        select(RecheckItem.evaluation_id, RecheckItem.recheck_total, RecheckItem.recheck_grade)
        .join(RecheckBatch, RecheckBatch.id == RecheckItem.batch_id)
        .where(RecheckBatch.cycle_id == cycle_id, RecheckItem.state == RecheckState.DONE.value)
        .order_by(RecheckItem.completed_at)
    ).all()
    for ev_id, total, grade in done:
        if ev_id in out:
            out[ev_id] = (total, grade, "抽查复核")
    return out


def project_names(evaluation_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """evaluation id -> (project, unit, department) names."""
    unit = Org.__table__.alias("u")
    dept = Org.__table__.alias("d")
    rows = db.session.execute(
        select(Evaluation.id, Project.name, unit.c.name, dept.c.name)
        .join(Project, Project.id == Evaluation.project_id)
        .join(unit, unit.c.id == Evaluation.unit_id)
        .join(dept, dept.c.id == Evaluation.department_id)
        .where(Evaluation.id.in_(evaluation_ids))
    ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def as_dict(value: Any) -> dict[str, Any]:
    return dict(value)


@dataclass(frozen=True)
class RiskyRow:
    evaluation_id: int
    project: str
    unit: str
    badge: Badge


FACT_FIELDS = tuple(risk.Facts.__dataclass_fields__)
RISKY_PAGE = 50


def risky(user: Actor, limit: int = 10, offset: int = 0) -> tuple[int, list[RiskyRow]]:
    """How many evaluations in the user's scope carry risk findings, and a page of them,
    most findings first (the dashboard's ten, the list's pages).

    The database applies the rules (the same conditions compiled to SQL as for a batch,
    `facts.mask_expression`), counts, orders and pages; Python words the reasons of the
    rows shown only."""
    from workflow.evaluations.queries import visible_filter

    if Role(user.role) not in (Role.REVIEWER, Role.FINANCE, Role.SYSADMIN):
        return 0, []
    limits = facts.thresholds()
    e, f = Evaluation.__table__.c, facts.RiskFacts.__table__.c
    bits = facts.mask_expression(limits)
    fired = facts.mask_expression(limits, [1] * len(risk.RULES))
    joined = Evaluation.__table__.join(facts.RiskFacts.__table__, f.evaluation_id == e.id)
    scope = and_(visible_filter(user), e.state.in_(facts.SUBMITTED_STATES), bits > 0)
    total = int(db.session.scalar(select(func.count()).select_from(joined).where(scope)) or 0)
    if total == 0 or offset >= total:
        return total, []
    rows = db.session.execute(
        select(e.id, bits, *(f[name] for name in FACT_FIELDS))
        .select_from(joined)
        .where(scope)
        .order_by(fired.desc(), e.id)
        .limit(limit)
        .offset(offset)
    ).all()
    names = project_names([r[0] for r in rows])
    out = []
    for ev_id, mask, *values in rows:
        why = risk.assess_mask(int(mask), risk.Facts(*values), limits)  # type: ignore[arg-type]
        badge = Badge(ev_id, tuple(w.label for w in why), tuple(w.reason for w in why))
        project, unit, _department = names.get(ev_id, ("", "", ""))
        out.append(RiskyRow(ev_id, project, unit, badge))
    return total, out


def evidence_file(user: Actor, item_id: int, evidence_id: int) -> tuple[Any, Any]:
    """An evidence file of the evaluation of a re-check item, for whoever may see the item
    (the assigned expert sees no evaluation page, but needs the unit's evidence)."""
    from pathlib import Path

    from flask import current_app

    from workflow.evaluations.operations import NotFound
    from workflow.models import Evidence

    item = db.session.get(RecheckItem, item_id)
    if item is None or not policy.can_view_recheck(user, item):
        raise NotFound("未找到该文件")
    evidence = db.session.get(Evidence, evidence_id)
    if evidence is None or evidence.evaluation_id != item.evaluation_id:
        raise NotFound("未找到该文件")
    path = Path(current_app.config["EVIDENCE_DIR"]) / evidence.stored_name
    if not path.is_file():
        raise NotFound("未找到该文件")
    return evidence, path
