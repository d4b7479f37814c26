"""The home page per role: what waits for this user, each deadline with its days left."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from workflow.core.extensions import db
from workflow.evaluations import queries, views
from workflow.home import queries as home_queries
from workflow.home.queries import WAITING
from workflow.machine import Role, State
from workflow.models import Cycle, Notice

bp = Blueprint("home", __name__)

WAITING_TITLES = {
    Role.UNIT_STAFF: "待填报、待提交的自评表",
    Role.UNIT_HEAD: "待填报、待提交的自评表",
    Role.REVIEWER: "待审核的自评表",
    Role.FINANCE: "待财政确认的评价表",
}
# What a unit has handed on, with where each form is now (its state).
SUBMITTED_STATES = (
    State.SELF_SCORED.value,
    State.DEPT_REVIEW.value,
    State.FINANCE_CONFIRMATION.value,
    State.CONFIRMED.value,
)
UNIT_ROLES = (Role.UNIT_STAFF, Role.UNIT_HEAD)
# Which list page shows the whole of "what waits".
MORE = {Role.REVIEWER: "review.queue", Role.FINANCE: "finance.queue"}


@bp.route("/")
@login_required
def index() -> str:
    role = Role(current_user.role)
    states = WAITING.get(role, ())
    page = None
    if states:
        page = queries.list_evaluations(
            current_user, queries.ListFilters(states=list(states)), per_page=10
        )
    submitted = returned = None
    if role in UNIT_ROLES:
        submitted = queries.list_evaluations(
            current_user, queries.ListFilters(states=list(SUBMITTED_STATES)), per_page=10
        )
        returned = queries.returned_count(current_user)
    active = db.session.scalars(
        select(Cycle).where(Cycle.active.is_(True)).order_by(Cycle.year.desc())
    ).all()
    on = views.today()
    unread = home_queries.nav_counts(current_user)["unread"]  # the header counted it already
    latest = db.session.scalars(
        select(Notice)
        .where(Notice.user_id == current_user.id, Notice.read_at.is_(None))
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(5)
    ).all()
    return render_template(
        "home/index.html",
        page=page,
        title=WAITING_TITLES.get(role, ""),
        more=MORE.get(role, "evaluations.index"),
        more_args={"state": list(states)} if states else {},
        cycles=[(c, views.cycle_deadlines(c, on)) for c in active],
        today=on,
        unread=unread,
        notices=latest,
        submitted=submitted,
        submitted_args={"state": list(SUBMITTED_STATES)},
        returned=returned,
    )
