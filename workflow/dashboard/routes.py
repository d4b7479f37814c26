"""统计分析: counts, grades per department, overdue evaluations, days per stage, Excel export."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from workflow import policy
from workflow.core.audit import log_access
from workflow.core.inputs import parse_int
from workflow.dashboard import chart, export
from workflow.dashboard import queries as stats
from workflow.dashboard.indicators import indicator_rows
from workflow.evaluations import views
from workflow.machine import STATE_LABELS, Role, State
from workflow.models import Actor, Cycle

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

ALLOWED = (Role.REVIEWER, Role.FINANCE, Role.SYSADMIN)
STATE_VALUES = frozenset(s.value for s in State)


def _user() -> Actor:
    if not policy.is_role(current_user, *ALLOWED):
        abort(404)
    user: Actor = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _cycle_choice(cycles: list[Cycle]) -> Cycle | None:
    """?cycle=<id>, or "all", or by default the newest cycle."""
    raw = request.args.get("cycle", "")
    if raw == "all":
        return None
    if raw:
        wanted = parse_int(raw)
        for cycle in cycles:
            if cycle.id == wanted:
                return cycle
        abort(404)
    return cycles[0] if cycles else None


def _scope_label(user: Actor) -> str:
    if Role(user.role) is Role.REVIEWER:
        return f"{user.org.name}所属单位"
    return "全部单位"


def _figures(user: Actor, cycle: Cycle | None, today: date) -> dict[str, Any]:
    cycle_id = cycle.id if cycle else None
    counts = stats.state_counts(user, cycle_id)
    grades = stats.grade_distribution(user, cycle_id)
    return {
        "counts": counts,
        "total": sum(c.count for c in counts),
        "grades": grades,
        "late": stats.overdue(user, today, cycle_id),
        "days": stats.stage_days(user, datetime.now(UTC), cycle_id),
        "chart": chart.grade_chart(grades),
    }


@bp.route("/")
@login_required
def index() -> str:
    user = _user()
    cycles = stats.cycles()
    cycle = _cycle_choice(cycles)
    today = views.today()  # China time, as every other page counts days
    return render_template(
        "dashboard/index.html",
        cycles=cycles,
        cycle=cycle,
        selected="all" if cycle is None else str(cycle.id),
        today=today,
        scope_label=_scope_label(user),
        series=chart.SERIES,
        **_figures(user, cycle, today),
    )


@bp.route("/export.xlsx")
@login_required
def export_xlsx() -> Response:
    """The figures and the forms of a cycle as .xlsx; ?state=... (repeatable) narrows the
    明细 and 指标明细 sheets to a queue's states (the queues' 导出 Excel)."""
    user = _user()
    cycle = _cycle_choice(stats.cycles())
    today = views.today()  # China time, as every other page counts days
    cycle_id = cycle.id if cycle else None
    states = tuple(s for s in request.args.getlist("state") if s in STATE_VALUES)
    figures = _figures(user, cycle, today)
    content = export.build_workbook(
        scope_label=_scope_label(user),
        cycle_label=cycle.name if cycle else "全部任务",
        today=today,
        counts=figures["counts"],
        grades=figures["grades"],
        late=figures["late"],
        days=figures["days"],
        detail=stats.details(user, cycle_id, states=states),
        indicators=indicator_rows(user, cycle_id, states=states),
    )
    label = "、".join(STATE_LABELS[State(s)] for s in states) if states else "统计"
    name = f"绩效自评{label}-{cycle.name if cycle else '全部任务'}-{today.isoformat()}.xlsx"
    log_access("export", "dashboard.xlsx", {"cycle_id": cycle_id, "states": list(states)})
    return Response(
        content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": export.attachment(name, f"jixiao-{today.isoformat()}.xlsx"),
            "Cache-Control": "no-store",
        },
    )
