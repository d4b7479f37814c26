"""What the notices page reads: one page of a user's notices."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from workflow.core.extensions import db
from workflow.models import Notice


def page_of_notices(
    user_id: int, page: int, only_unread: bool, per_page: int
) -> tuple[int, Sequence[Notice]]:
    """(how many there are, the notices of this page), newest first."""
    where = [Notice.user_id == user_id]
    if only_unread:
        where.append(Notice.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(Notice).where(*where)) or 0
    notices = db.session.scalars(
        select(Notice)
        .where(*where)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return total, notices
