"""A user's notices (every workflow step and reminder that concerns them); mark as read."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select, update
from werkzeug.wrappers import Response

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.inputs import parse_int
from workflow.evaluations import queries
from workflow.models import Notice, utcnow

bp = Blueprint("notices", __name__, url_prefix="/notices")
PER_PAGE = 30


@bp.route("/")
@login_required
def index() -> str:
    page_arg = request.args.get("page", "")
    page = max(1, min(parse_int(page_arg) or 1, 100000))
    only_unread = request.args.get("unread") == "1"
    where = [Notice.user_id == current_user.id]
    if only_unread:
        where.append(Notice.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(Notice).where(*where)) or 0
    notices = db.session.scalars(
        select(Notice)
        .where(*where)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "notices/index.html",
        notices=notices,
        page=queries.Page([], total, page, PER_PAGE),
        only_unread=only_unread,
    )


@bp.route("/<int:notice_id>/read", methods=["POST"])
@login_required
def read(notice_id: int) -> Response:
    begin_write()
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.user_id != current_user.id:
        abort(404)
    if notice.read_at is None:
        notice.read_at = utcnow()
    db.session.commit()
    if notice.evaluation_id and request.form.get("open") == "1":
        return redirect(url_for("evaluations.detail", evaluation_id=notice.evaluation_id))
    return redirect(url_for("notices.index"))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all() -> Response:
    begin_write()
    result = db.session.execute(
        update(Notice)
        .where(Notice.user_id == current_user.id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    flash(f"已将 {result.rowcount} 条消息标为已读", "success")
    return redirect(url_for("notices.index"))
