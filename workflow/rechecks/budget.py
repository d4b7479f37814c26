"""结果应用 (1): next year's budget advice by final grade. The defaults follow common
practice (优 优先保障, 良 保持, 中 压减 BUDGET_CUT_SHARE, 差 压减 BUDGET_CUT_SHARE_POOR or 暂停);
finance changes the advice of one project with a reason (kept in ``budget_advice``, audited).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from sqlalchemy import select

from workflow import policy
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.evaluations.operations import Forbidden, NotFound, ValidationFailed
from workflow.models import Actor, AuditLog, BudgetAdvice, Evaluation, Project
from workflow.rechecks import queries

ADVICE = {
    "prioritise": "优先保障",
    "keep": "保持",
    "cut": "压减",
    "suspend": "暂停",
}


def default_advice(grade: str | None, config: Mapping[str, Any]) -> tuple[str, Decimal | None]:
    """The advice a grade gets unless finance says otherwise (pure)."""
    if grade == "优":
        return "prioritise", None
    if grade == "良":
        return "keep", None
    if grade == "中":
        return "cut", Decimal(str(config.get("BUDGET_CUT_SHARE", "0.10")))
    if grade == "差":
        return "cut", Decimal(str(config.get("BUDGET_CUT_SHARE_POOR", "0.30")))
    return "keep", None


def advice_text(advice: str, share: Decimal | None) -> str:
    label = ADVICE.get(advice, advice)
    if advice == "cut" and share is not None:
        return f"{label} {share * 100:.0f}%"
    return label


@dataclass
class AdviceRow:
    evaluation_id: int
    project: str
    unit: str
    department: str
    budget: Decimal | None
    total: Decimal | None
    grade: str | None
    source: str
    advice: str
    cut_share: Decimal | None
    text: str
    suggested: Decimal | None  # next year's amount if the advice is followed
    default_text: str
    reason: str
    edited: bool


def rows(cycle_id: int) -> list[AdviceRow]:
    finals = queries.final_grades(cycle_id)
    names = queries.project_names(list(finals))
    budgets = dict(
        db.session.execute(
            select(Evaluation.id, Project.budget_full)
            .join(Project, Project.id == Evaluation.project_id)
            .where(Evaluation.id.in_(list(finals)))
        ).all()
    )
    edits = {
        a.evaluation_id: a
        for a in db.session.scalars(select(BudgetAdvice).where(BudgetAdvice.cycle_id == cycle_id))
    }
    out = []
    for ev_id, (total, grade, source) in finals.items():
        d_advice, d_share = default_advice(grade, current_app.config)
        edit = edits.get(ev_id)
        advice, share = (edit.advice, edit.cut_share) if edit else (d_advice, d_share)
        budget = budgets.get(ev_id)
        suggested = None
        if budget is not None:
            if advice == "cut":
                suggested = (budget * (1 - (share or Decimal(0)))).quantize(Decimal("0.01"))
            elif advice == "suspend":
                suggested = Decimal("0.00")
            else:
                suggested = budget
        project, unit, dept = names.get(ev_id, ("", "", ""))
        out.append(
            AdviceRow(
                ev_id,
                project,
                unit,
                dept,
                budget,
                total,
                grade,
                source,
                advice,
                share,
                advice_text(advice, share),
                suggested,
                advice_text(d_advice, d_share),
                edit.reason if edit else "",
                edit is not None,
            )
        )
    out.sort(key=lambda r: ("优良中差".find(r.grade or "差"), r.department, r.unit, r.project))
    return out


def parse_share(raw: str) -> Decimal | None:
    """A cut share typed as 15 or 15% (percent), or empty."""
    text = (raw or "").strip().rstrip("%％")
    if not text:
        return None
    try:
        value = Decimal(text) / 100
    except InvalidOperation as exc:
        raise ValidationFailed(f"压减比例“{raw}”不是数字") from exc
    if value < 0 or value > 1:
        raise ValidationFailed("压减比例须在 0% 至 100% 之间")
    return value.quantize(Decimal("0.0001"))


def set_advice(
    user: Actor, evaluation_id: int, advice: str, cut_share: Decimal | None, reason: str
) -> BudgetAdvice:
    begin_write()
    if not policy.can_manage_rechecks(user):
        raise Forbidden("您无权执行此操作")
    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise NotFound("未找到该评价表")
    if advice not in ADVICE:
        raise ValidationFailed("请选择预算建议")
    if advice == "cut" and cut_share is None:
        raise ValidationFailed("压减须填写压减比例")
    if not reason.strip():
        raise ValidationFailed("调整预算建议须填写理由")
    row = db.session.scalar(select(BudgetAdvice).where(BudgetAdvice.evaluation_id == evaluation_id))
    if row is None:
        row = BudgetAdvice(evaluation_id=evaluation_id, cycle_id=evaluation.cycle_id)
        db.session.add(row)
    row.advice = advice
    row.cut_share = cut_share if advice == "cut" else None
    row.reason = reason.strip()
    row.updated_by_id = user.id
    db.session.add(
        AuditLog(
            evaluation_id=evaluation_id,
            actor_id=user.id,
            actor_name=user.name,
            role=user.role,
            org_id=user.org_id,
            org_name=user.org.name if user.org else "",
            event="budget_advice",
            from_state=evaluation.state,
            to_state=evaluation.state,
            version=evaluation.version,
            reason=f"预算建议：{advice_text(advice, row.cut_share)}；{row.reason}",
            scores={
                "advice": advice,
                "cut_share": None if row.cut_share is None else str(row.cut_share),
            },
        )
    )
    db.session.commit()
    return row
