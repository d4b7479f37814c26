"""A user's notices (every workflow step and reminder that concerns them); mark as read."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from workflow.core.inputs import parse_int
from workflow.evaluations import queries
from workflow.notices import operations
from workflow.notices import queries as queries_notices

bp = Blueprint("notices", __name__, url_prefix="/notices")
PER_PAGE = 30


@bp.route("/")
@login_required
def index() -> str:
    page_arg = request.args.get("page", "")
    page = max(1, min(parse_int(page_arg) or 1, 100000))
    only_unread = request.args.get("unread") == "1"
    total, notices = queries_notices.page_of_notices(current_user.id, page, only_unread, PER_PAGE)
    return render_template(
        "notices/index.html",
        notices=notices,
        page=queries.Page([], total, page, PER_PAGE),
        only_unread=only_unread,
    )


@bp.route("/<int:notice_id>/read", methods=["POST"])
@login_required
def read(notice_id: int) -> Response:
    notice = operations.mark_read(current_user.id, notice_id)
    if notice is None:
        abort(404)
    if notice.evaluation_id and request.form.get("open") == "1":
        return redirect(url_for("evaluations.detail", evaluation_id=notice.evaluation_id))
    return redirect(url_for("notices.index"))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all() -> Response:
    count = operations.mark_all_read(current_user.id)
    flash(f"已将 {count} 条消息标为已读", "success")
    return redirect(url_for("notices.index"))
