"""What the header counts on every page: the evaluations waiting for this user (待办) and the
unread notices (消息). Two small indexed counts, each stopping at NAV_CAP (the badge then
shows "99+"), read with the signed-in user on a GET and in one statement of their own
otherwise: the review queue's speed is benchmarked (bench/web.md) and every page pays for
its header."""

from __future__ import annotations

import functools
from typing import Any

from flask import g
from sqlalchemy import bindparam, case, func, literal, literal_column, select

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


# The badge shows "99+" beyond this: a count of index entries stops at NAV_CAP instead of
# reading all of them (a unit holding 20,000 drafts cost 10 ms on every one of its pages).
NAV_CAP = 100


def _at_most(rows: Any, table: Any) -> Any:
    """The number of rows of a select from table, counting no further than NAV_CAP (a
    literal, so that the plan does not depend on a parameter). Any other table it names is
    the enclosing statement's (the user's columns), even from inside the derived table."""
    capped = rows.correlate_except(table).limit(literal_column(str(NAV_CAP)))
    return select(func.count()).select_from(capped.subquery()).scalar_subquery()


def _waiting(role: Role, org_id: Any) -> Any:
    """What waits for someone of this role in organisation org_id (a bound parameter or the
    user's column): from the kept counts for a department or everyone, from the (unit,
    state, cycle) index for a unit; 0 when nothing waits for the role."""
    states = WAITING.get(role, ())
    scope = policy.role_scope(role)
    if states and scope == "unit_id":
        return _at_most(
            select(literal(1)).where(
                Evaluation.unit_id == org_id, Evaluation.state.in_(_each(states))
            ),
            Evaluation.__table__,
        )
    if states and scope in ("department_id", "all"):
        kept = select(func.coalesce(func.sum(EvaluationCount.n), 0)).where(
            EvaluationCount.state.in_(_each(states))
        )
        if scope == "department_id":
            kept = kept.where(EvaluationCount.department_id == org_id)
        return kept.scalar_subquery()
    return literal(0)


def _each(states: tuple[str, ...]) -> list[Any]:
    """The states as one parameter each: a plain tuple is an "expanding" parameter, which
    SQLAlchemy writes into the statement anew on every execution (on every page, here)."""
    return [literal(state) for state in states]


def _unread(user_id: Any) -> Any:
    return _at_most(
        select(literal(1)).where(Notice.user_id == user_id, Notice.read_at.is_(None)),
        Notice.__table__,
    )


def header_columns(role: Any, org_id: Any, user_id: Any) -> tuple[Any, Any]:
    """The header's two counts as columns of the statement that reads the signed-in user
    (auth.load_user_from_id), correlated to its role, organisation and id: a read request
    then asks nothing more for its header. Built from the same parts as the statement of
    nav_counts, per role."""
    branches = [(role == r.value, _waiting(r, org_id)) for r in Role if WAITING.get(r)]
    return case(*branches, else_=literal(0)), _unread(user_id)


@functools.cache
def _statement(role: Role) -> Any:
    """The header's one statement for a role, built once (building it cost more than running
    it), with the organisation and the user as bound parameters."""
    return select(_waiting(role, bindparam("org_id")), _unread(bindparam("user_id")))


def remember(waiting: int, unread: int) -> None:
    """The counts read with the user at the start of a read request (nothing changes them
    before its page is rendered)."""
    g.nav_counts = {"waiting": int(waiting or 0), "unread": int(unread or 0)}


def forget() -> None:
    g.pop("nav_counts", None)


def nav_counts(user: Any) -> dict[str, int]:
    """{"waiting": n, "unread": n} for the header: read with the user on a GET, else one
    statement, once per request."""
    counts: dict[str, int] | None = g.get("nav_counts")
    if counts is None:
        row = db.session.execute(
            _statement(Role(user.role)), {"org_id": user.org_id, "user_id": user.id}
        ).one()
        remember(row[0], row[1])
        counts = g.nav_counts
    return counts
