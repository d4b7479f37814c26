"""What the header counts on every page: the evaluations waiting for this user (待办) and the
unread notices (消息). Two small indexed counts per request, made once per request: the
review queue's speed is benchmarked (bench/web.md) and every page pays for its header."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import func, select

from workflow import policy
from workflow.core.extensions import db
from workflow.machine import Role, State
from workflow.models import Evaluation, Notice
from workflow.models.counts import EvaluationCount

# The states in which an evaluation waits for someone of this role to act.
WAITING: dict[Role, tuple[str, ...]] = {
    Role.UNIT_STAFF: (State.DRAFT.value,),
    Role.UNIT_HEAD: (State.DRAFT.value,),
    Role.REVIEWER: (State.SELF_SCORED.value, State.DEPT_REVIEW.value),
    Role.FINANCE: (State.FINANCE_CONFIRMATION.value,),
    Role.SYSADMIN: (),
    Role.SECADMIN: (),
    Role.AUDITOR: (),
}


def waiting_count(user: Any) -> int:
    """How many evaluations wait for this user: from the kept counts (models/counts.py) for
    a department or everyone, from the (unit, state, cycle) index for a unit."""
    states = WAITING.get(Role(user.role), ())
    if not states:
        return 0
    scope, scope_id = policy.visible_scope(user)
    if scope == "unit_id":
        stmt = select(func.count()).where(
            Evaluation.unit_id == scope_id, Evaluation.state.in_(states)
        )
    elif scope in ("department_id", "all"):
        stmt = select(func.coalesce(func.sum(EvaluationCount.n), 0)).where(
            EvaluationCount.state.in_(states)
        )
        if scope == "department_id":
            stmt = stmt.where(EvaluationCount.department_id == scope_id)
    else:
        return 0
    return int(db.session.scalar(stmt) or 0)


def unread_count(user: Any) -> int:
    stmt = (
        select(func.count())
        .select_from(Notice)
        .where(Notice.user_id == user.id, Notice.read_at.is_(None))
    )
    return int(db.session.scalar(stmt) or 0)


def nav_counts(user: Any) -> dict[str, int]:
    """{"waiting": n, "unread": n} for the header, counted once per request."""
    counts: dict[str, int] | None = g.get("nav_counts")
    if counts is None:
        counts = g.nav_counts = {"waiting": waiting_count(user), "unread": unread_count(user)}
    return counts
