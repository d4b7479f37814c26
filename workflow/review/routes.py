"""The department reviewer's pages: the queue of its units' evaluations, and the review page
(self score and review score side by side; every change with a reason; approve)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from workflow import policy
from workflow.evaluations import operations, queries, views
from workflow.evaluations.operations import OperationError
from workflow.evaluations.stage import STAGES, fire_stage, render_stage, render_stage_total
from workflow.machine import STATE_LABELS, Role, State
from workflow.rechecks import facts

bp = Blueprint("review", __name__, url_prefix="/review")

QUEUE_STATES = (State.SELF_SCORED.value, State.DEPT_REVIEW.value)
SPEC = STAGES["dept"]

Result = str | Response | tuple[str, int]


def _require_reviewer() -> None:
    # A page a role may not use does not exist for it.
    if not policy.is_role(current_user, Role.REVIEWER):
        abort(404)


@bp.route("/")
@login_required
def queue() -> str:
    _require_reviewer()
    filters = queries.ListFilters.from_args(request.args, default_states=QUEUE_STATES)
    page = queries.list_evaluations(current_user, filters, extra=facts.list_columns())
    return render_template(
        "review/queue.html",
        page=page,
        filters=filters,
        units=queries.units_for(current_user),
        states=STATE_LABELS,
    )


@bp.route("/<int:evaluation_id>")
@login_required
def review(evaluation_id: int) -> Result:
    _require_reviewer()
    try:
        evaluation = operations.load_for(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    return render_stage(current_user, evaluation, SPEC)


@bp.route("/<int:evaluation_id>", methods=["POST"])
@login_required
def review_post(evaluation_id: int) -> Result:
    """Approve (sign off) with the review scores; each changed score carries its reason."""
    _require_reviewer()
    result = fire_stage(current_user, evaluation_id, SPEC)
    if not isinstance(result, operations.FireResult):
        return result
    flash("审核通过，已报送财政确认", "success")
    return redirect(url_for("review.queue"))


@bp.route("/<int:evaluation_id>/total", methods=["POST"])
@login_required
def total(evaluation_id: int) -> Result:
    """The live review total while scores are typed (htmx fragment; the server computes)."""
    _require_reviewer()
    return render_stage_total(current_user, evaluation_id, SPEC)
