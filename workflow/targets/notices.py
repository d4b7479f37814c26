"""The targets' notices: what the unit and the department are told when targets move."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import (
    TargetSet,
    utcnow,
)

# --- notices ---------------------------------------------------------------------------------

NOTICE_TITLES = {
    "targets_submit": "单位已提交绩效目标，待审核",
    "targets_adjust": "单位已申请调整绩效目标，待审核",
    "targets_approve": "主管部门已批复绩效目标",
    "targets_return": "主管部门已退回绩效目标",
}


def handle_targets_notify(message_id: int, payload: Mapping[str, Any]) -> int:
    """In-app notices for a targets step (an outbox 'notify' message naming targets_id):
    submit/adjust → the department's reviewers, approve/return → the unit's users. Returns
    how many notices were created; a message handled before creates none (each notice's
    kind carries the message id)."""
    from sqlalchemy import and_, exists

    from workflow.models import Notice, User

    begin_write()
    event = str(payload.get("event", ""))
    targets = db.session.get(TargetSet, int(payload.get("targets_id", 0)))
    marker = f"tm{message_id}"
    if (
        targets is None
        or event not in NOTICE_TITLES
        or db.session.scalar(select(exists().where(Notice.kind == marker)))
    ):
        db.session.rollback()
        return 0
    if event in ("targets_submit", "targets_adjust"):
        who = and_(User.role == "reviewer", User.org_id == targets.department_id)
    else:
        who = and_(User.role.in_(("unit_staff", "unit_head")), User.org_id == targets.unit_id)
    query = select(User.id).where(who, User.active.is_(True))
    if payload.get("actor_id") is not None:
        query = query.where(User.id != int(payload["actor_id"]))
    title = f"{NOTICE_TITLES[event]}：{targets.project.name}"
    body = f"填报单位：{targets.unit.name}；当前状态：{targets.state_label}"
    if payload.get("reason"):
        body += f"\n原因：{payload['reason']}"
    users = list(db.session.scalars(query))
    now = utcnow()
    for user_id in users:
        db.session.add(
            Notice(user_id=user_id, kind=marker, title=title[:300], body=body, created_at=now)
        )
    db.session.commit()
    return len(users)
