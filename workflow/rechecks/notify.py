"""In-app notices for a re-check step (an outbox 'notify' message naming recheck_item_id):
assignment and the unit's answer -> the re-checker; an evidence request -> the unit's users;
the result -> the unit's users and the department's reviewers, with the reason where the
grade changed. Each notice's kind carries the message id, so a message handled twice
creates nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, or_, select

from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.outbox import mark_done
from workflow.models import Notice, RecheckItem, User, utcnow

log = logging.getLogger(__name__)

TITLES = {
    "recheck_assign": "您有新的抽查复核任务",
    "recheck_request": "财政抽查复核：请补充佐证材料",
    "recheck_answer": "单位已提交补充说明",
    "recheck_result": "财政抽查复核结果",
}
UNIT_ROLES = ("unit_staff", "unit_head")


def handle_recheck_notify(message_id: int, payload: Mapping[str, Any]) -> int:
    begin_write()
    marker = f"rm{message_id}"
    event = str(payload.get("event", ""))
    item = db.session.get(RecheckItem, int(payload.get("recheck_item_id", 0)))
    if db.session.scalar(select(exists().where(Notice.kind == marker))):
        mark_done(message_id)
        db.session.commit()
        return 0
    if item is None or event not in TITLES:
        log.warning("notify: re-check message %s names nothing known", message_id)
        mark_done(message_id)
        db.session.commit()
        return 0
    evaluation = item.evaluation
    unit_users = and_(User.role.in_(UNIT_ROLES), User.org_id == item.unit_id)
    reviewers = and_(User.role == "reviewer", User.org_id == item.department_id)
    to_user = payload.get("to_user_id")
    if event in ("recheck_assign", "recheck_answer"):
        who: Any = User.id == int(to_user or 0)
        link = None  # the re-checker opens it from the re-check list, not the evaluation
    elif event == "recheck_request":
        who, link = unit_users, evaluation.id
    else:
        who, link = or_(unit_users, reviewers), evaluation.id
    query = select(User.id).where(who, User.active.is_(True))
    if payload.get("actor_id") is not None:
        query = query.where(User.id != int(payload["actor_id"]))
    title = f"{TITLES[event]}：{evaluation.project.name}"
    body = f"填报单位：{item.unit.name}；复核状态：{item.state_label}"
    if event == "recheck_result":
        body += f"；复核得分：{item.recheck_total}，复核等级：{item.recheck_grade}"
        body += "\n" + (item.conclusion or "复核等级与原等级一致。")
    elif payload.get("reason"):
        body += f"\n{'需补充' if event == 'recheck_request' else '说明'}：{payload['reason']}"
    now = utcnow()
    users = list(db.session.scalars(query))
    for user_id in users:
        db.session.add(
            Notice(
                user_id=user_id,
                evaluation_id=link,
                kind=marker,
                title=title[:300],
                body=body,
                created_at=now,
            )
        )
    mark_done(message_id)
    db.session.commit()
    return len(users)
