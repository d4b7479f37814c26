"""What the header counts on every page: the evaluations waiting for this user (待办) and the
unread notices (消息). Two small indexed counts in one statement, once per request: the
review queue's speed is benchmarked (bench/web.md) and every page pays for its header."""

from __future__ import annotations

import functools
from typing import Any

from flask import g
from sqlalchemy import bindparam, func, literal, select

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


@functools.cache
def _statement(scope: str, states: tuple[str, ...]) -> Any:
    """The header's one statement for a scope, built once (building it cost more than running
    it): the waiting count (from the kept counts for a department or everyone, from the
    (unit, state, cycle) index for a unit; 0 when nothing waits for the role) and the unread
    notices, with the user and organisation as bound parameters."""
    waiting: Any = literal(0)
    if states and scope == "unit_id":
        waiting = (
            select(func.count())
            .where(Evaluation.unit_id == bindparam("org_id"), Evaluation.state.in_(states))
            .scalar_subquery()
        )
    elif states and scope in ("department_id", "all"):
        kept = select(func.coalesce(func.sum(EvaluationCount.n), 0)).where(
            EvaluationCount.state.in_(states)
        )
        if scope == "department_id":
            kept = kept.where(EvaluationCount.department_id == bindparam("org_id"))
        waiting = kept.scalar_subquery()
    unread = (
        select(func.count())
        .select_from(Notice)
        .where(Notice.user_id == bindparam("user_id"), Notice.read_at.is_(None))
        .scalar_subquery()
    )
    return select(waiting, unread)


def nav_counts(user: Any) -> dict[str, int]:
    """{"waiting": n, "unread": n} for the header: one statement, once per request."""
    counts: dict[str, int] | None = g.get("nav_counts")
    if counts is None:
        scope, scope_id = policy.visible_scope(user)
        stmt = _statement(scope, WAITING.get(Role(user.role), ()))
        row = db.session.execute(stmt, {"org_id": scope_id, "user_id": user.id}).one()
        counts = g.nav_counts = {"waiting": int(row[0] or 0), "unread": int(row[1] or 0)}
    return counts
