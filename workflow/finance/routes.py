"""The finance office's pages: the queue of department-approved evaluations, confirmation with
final scores (side by side with the department's), and bulk confirmation that first shows the
exact selection and then each item's own result."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow import policy
from workflow.core.extensions import db
from workflow.core.inputs import parse_int
from workflow.evaluations import operations, queries, views
from workflow.evaluations.operations import OperationError
from workflow.evaluations.stage import STAGES, fire_stage, render_stage, render_stage_total
from workflow.machine import STATE_LABELS, Event, Role, State
from workflow.models import Evaluation
from workflow.rechecks import facts

bp = Blueprint("finance", __name__, url_prefix="/finance")

SPEC = STAGES["final"]
BULK_MAX = 200

Result = str | Response | tuple[str, int]


def _require_finance() -> None:
    if not policy.is_role(current_user, Role.FINANCE):
        abort(404)


@bp.route("/")
@login_required
def queue() -> str:
    _require_finance()
    filters = queries.ListFilters.from_args(
        request.args, default_states=(State.FINANCE_CONFIRMATION.value,)
    )
    page = queries.list_evaluations(current_user, filters, extra=facts.list_columns())
    return render_template(
        "finance/queue.html",
        page=page,
        filters=filters,
        units=queries.units_for(current_user),
        states=STATE_LABELS,
        bulk_max=BULK_MAX,
    )


@bp.route("/<int:evaluation_id>")
@login_required
def confirm(evaluation_id: int) -> Result:
    _require_finance()
    try:
        evaluation = operations.load_for(current_user, evaluation_id)
    except OperationError as exc:
        return views.error_page(exc)
    return render_stage(current_user, evaluation, SPEC)


@bp.route("/<int:evaluation_id>", methods=["POST"])
@login_required
def confirm_post(evaluation_id: int) -> Result:
    _require_finance()
    result = fire_stage(current_user, evaluation_id, SPEC)
    if not isinstance(result, operations.FireResult):
        return result
    ev = result.evaluation
    flash(f"已确认定级：{ev.final_total:.2f} 分，{ev.final_grade}", "success")
    return redirect(url_for("finance.queue"))


@bp.route("/<int:evaluation_id>/total", methods=["POST"])
@login_required
def total(evaluation_id: int) -> Result:
    """The live confirmation total while scores are typed (htmx fragment)."""
    _require_finance()
    return render_stage_total(current_user, evaluation_id, SPEC)


# --- bulk confirmation -----------------------------------------------------------------------


@dataclass
class BulkItem:
    id: int
    version: int | None
    unit: str = ""
    project: str = ""
    total: str = ""
    grade: str = ""
    state_label: str = ""
    ok: bool = False
    message: str = ""


def _selected() -> list[tuple[int, int | None]]:
    """(id, version) pairs from the form: ids as checked, versions as seen when checked."""
    seen: set[int] = set()
    pairs: list[tuple[int, int | None]] = []
    for raw in request.form.getlist("ids"):
        ev_id = parse_int(raw)
        if ev_id is None or ev_id in seen:
            continue
        seen.add(ev_id)
        pairs.append((ev_id, parse_int(request.form.get(f"v-{raw}", ""))))
    return pairs[:BULK_MAX]


@bp.route("/bulk", methods=["POST"])
@login_required
def bulk() -> Result:
    """Step 1: the exact selection (unit, project, total, grade), to be confirmed."""
    _require_finance()
    pairs = _selected()
    if not pairs:
        flash("请先勾选要确认的评价表", "warning")
        return redirect(url_for("finance.queue"))
    versions = dict(pairs)
    evaluations = db.session.scalars(
        select(Evaluation).where(Evaluation.id.in_(versions), queries.visible_filter(current_user))
    ).all()
    by_id = {ev.id: ev for ev in evaluations}
    items: list[BulkItem] = []
    for ev_id, version in pairs:
        ev = by_id.get(ev_id)
        if ev is None:
            continue
        total, grade = ev.dept_total, ev.dept_grade
        items.append(
            BulkItem(
                id=ev.id,
                version=version or ev.version,
                unit=ev.unit.name,
                project=ev.project.name,
                total="" if total is None else f"{total:.2f}",
                grade=grade or "",
                state_label=ev.state_label,
                ok=policy.can(current_user, Event.CONFIRM.value, ev),
                message=""
                if policy.can(current_user, Event.CONFIRM.value, ev)
                else f"当前状态（{ev.state_label}）不能确认",
            )
        )
    return render_template("finance/bulk.html", items=items, done=False)


# The outcome of each item travels in the result page's URL (redirect after POST: reloading
# the result shows it again and confirms nothing twice). Codes, not texts, in the URL.
OUTCOMES = {
    "ok": "已确认定级",
    "conflict": operations.CONFLICT_MESSAGE,
    "invalid": "得分有误，不能确认",
    "state": "当前状态不能确认",
    "missing": "未找到该评价表",
}


def _outcome(exc: OperationError) -> str:
    if isinstance(exc, operations.Conflict):
        return "conflict"
    if isinstance(exc, operations.NotFound):
        return "missing"
    if isinstance(exc, operations.ValidationFailed):
        return "invalid"
    return "state"


@bp.route("/bulk/confirm", methods=["POST"])
@login_required
def bulk_confirm() -> Result:
    """Step 2: each item is its own operation; one failure does not stop the others. Then
    to the result page (GET), which a reload shows again without posting anything."""
    _require_finance()
    outcomes: list[str] = []
    for ev_id, version in _selected():
        try:
            operations.fire(current_user, ev_id, Event.CONFIRM, expected_version=version)
            code = "ok"
        except OperationError as exc:
            db.session.rollback()
            code = _outcome(exc)
        outcomes.append(f"{ev_id}.{code}")
    if not outcomes:
        flash("请先勾选要确认的评价表", "warning")
        return redirect(url_for("finance.queue"))
    return redirect(url_for("finance.bulk_result", r=",".join(outcomes)), code=303)


@bp.route("/bulk/result")
@login_required
def bulk_result() -> Result:
    """Step 3: each item's own result, read again from what is stored now."""
    _require_finance()
    pairs: list[tuple[int, str]] = []
    for part in (request.args.get("r") or "").split(",")[:BULK_MAX]:
        raw_id, _, code = part.partition(".")
        ev_id = parse_int(raw_id)
        if ev_id is not None and code in OUTCOMES:
            pairs.append((ev_id, code))
    if not pairs:
        return redirect(url_for("finance.queue"))
    evaluations = db.session.scalars(
        select(Evaluation).where(
            Evaluation.id.in_([i for i, _ in pairs]), queries.visible_filter(current_user)
        )
    ).all()
    by_id = {ev.id: ev for ev in evaluations}
    items: list[BulkItem] = []
    for ev_id, code in pairs:
        item = BulkItem(id=ev_id, version=None, ok=code == "ok", message=OUTCOMES[code])
        ev = by_id.get(ev_id)
        if ev is not None:
            item.unit, item.project, item.state_label = (
                ev.unit.name,
                ev.project.name,
                ev.state_label,
            )
            total, grade = (
                (ev.final_total, ev.final_grade) if item.ok else (ev.dept_total, ev.dept_grade)
            )
            item.total = "" if total is None else f"{total:.2f}"
            item.grade = grade or ""
            if code == "state":
                item.message = f"当前状态（{ev.state_label}）不能确认"
        elif not item.ok:
            item.message = OUTCOMES["missing"]
        items.append(item)
    ok = sum(1 for i in items if i.ok)
    return render_template(
        "finance/bulk.html", items=items, done=True, ok=ok, failed=len(items) - ok
    )
