"""结果应用 (2): 整改 items. Each evaluation's 存在问题 and 整改措施 become items with an owner
(the unit's user who submitted it) and a due date; the owner is reminded (in the app, and by
mail through the reminders' delivery ledger) every RECTIFICATION_REMIND_EVERY_DAYS until the
item is closed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from workflow import policy
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.evaluations.operations import Conflict, Forbidden, NotFound, ValidationFailed
from workflow.machine import Role
from workflow.models import (
    Actor,
    AuditLog,
    Evaluation,
    Notice,
    Rectification,
    ReminderClaim,
    User,
    utcnow,
)

RECTIFY_STAGE = "rectify"
STATE_LABELS = {"open": "整改中", "closed": "已销号"}
_SPLIT = re.compile(r"[\n；;]+|\s+(?=(?:[0-9]+[.、]|[（(][0-9一二三四五六七八九十]+[)）]))")
_NUMBER = re.compile(
    r"^\s*(?:[0-9]+[.、]|[（(][0-9一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)\s*"
)
_NOTHING = {"", "无", "无。", "暂无", "暂无。", "没有"}


def split_points(text: str) -> list[str]:
    """The separate points of a 存在问题 or 整改措施 text (numbered, or one per line)."""
    parts = [_NUMBER.sub("", p).strip(" 。.，,") for p in _SPLIT.split(text or "")]
    return [p for p in parts if p and p not in _NOTHING]


def pairs(problems: str, measures: str) -> list[tuple[str, str]]:
    """Problem and measure side by side: point by point when the counts agree, else each
    problem with the whole measure text."""
    ps, ms = split_points(problems), split_points(measures)
    if not ps:
        return []
    if len(ps) == len(ms):
        return list(zip(ps, ms, strict=True))
    whole = "；".join(ms) or "（未填写整改措施）"
    return [(p, whole) for p in ps]


def _owner(evaluation: Evaluation) -> int | None:
    if evaluation.submitted_by_id:
        return evaluation.submitted_by_id
    return db.session.scalar(
        select(User.id)
        .where(User.org_id == evaluation.unit_id, User.role.in_(("unit_head", "unit_staff")))
        .order_by(User.role, User.id)
    )


def generate(user: Actor, cycle_id: int, today: date | None = None) -> int:
    """Create the 整改 items of every submitted evaluation of the cycle that has none yet."""
    begin_write()
    if not policy.can_manage_rechecks(user):
        raise Forbidden("您无权执行此操作")
    today = today or date.today()
    due = today + timedelta(days=int(current_app.config.get("RECTIFICATION_DUE_DAYS", 90)))
    have = set(
        db.session.scalars(
            select(Rectification.evaluation_id).where(Rectification.cycle_id == cycle_id)
        )
    )
    created = 0
    evaluations = db.session.scalars(
        select(Evaluation).where(
            Evaluation.cycle_id == cycle_id,
            Evaluation.state.in_(
                ("self_scored", "dept_review", "finance_confirmation", "confirmed")
            ),
        )
    )
    for ev in evaluations:
        if ev.id in have:
            continue
        owner = _owner(ev)
        if owner is None:
            continue
        for problem, measure in pairs(ev.problems, ev.measures):
            db.session.add(
                Rectification(
                    evaluation_id=ev.id,
                    cycle_id=cycle_id,
                    unit_id=ev.unit_id,
                    department_id=ev.department_id,
                    problem=problem,
                    measure=measure,
                    owner_id=owner,
                    due_on=due,
                    state="open",
                )
            )
            created += 1
    _audit(user, None, "rectify_generate", f"生成整改事项 {created} 项", {"cycle_id": cycle_id})
    db.session.commit()
    return created


def may_close(user: Actor, item: Rectification) -> bool:
    role = Role(user.role)
    return bool(
        user.is_active
        and (
            role is Role.FINANCE
            or (role in (Role.UNIT_STAFF, Role.UNIT_HEAD) and user.org_id == item.unit_id)
        )
    )


def may_see(user: Actor, item: Rectification) -> bool:
    role = Role(user.role)
    return may_close(user, item) or (role is Role.REVIEWER and user.org_id == item.department_id)


def may_edit(user: Actor, item: Rectification) -> bool:
    """Owner and due date: finance, which sets the items, and the unit's department, which
    supervises its units' 整改 (主管部门督促整改). Not the unit: a unit does not move its own
    deadline; it asks its department, which answers with a reason on the record."""
    role = Role(user.role)
    return bool(
        user.is_active
        and item.state == "open"
        and (role is Role.FINANCE or (role is Role.REVIEWER and user.org_id == item.department_id))
    )


def close(
    user: Actor, item_id: int, note: str, expected_version: int | None = None
) -> Rectification:
    begin_write()
    item = db.session.get(Rectification, item_id)
    if item is None or not may_see(user, item):
        raise NotFound("未找到该整改事项")
    if not may_close(user, item):
        raise Forbidden("您无权执行此操作")
    if item.state == "closed":
        raise ValidationFailed("该整改事项已销号")
    if not note.strip():
        raise ValidationFailed("销号须填写整改完成情况")
    _bump(item, expected_version)
    item.state = "closed"
    item.closing_note = note.strip()
    item.closed_at = utcnow()
    _audit(
        user,
        item.evaluation_id,
        "rectify_close",
        f"整改销号：{item.problem}；{note.strip()}",
        {"rectification_id": item.id},
    )
    db.session.commit()
    return item


# --- editing owner and due date ----------------------------------------------------------------

MAX_DUE_YEARS = 3


def owner_choices(item: Rectification) -> list[tuple[int, str]]:
    """The unit's active 填报人 and 单位负责人: who may own one of its items."""
    rows = db.session.execute(
        select(User.id, User.name, User.role)
        .where(
            User.org_id == item.unit_id,
            User.role.in_((Role.UNIT_STAFF.value, Role.UNIT_HEAD.value)),
            User.active.is_(True),
        )
        .order_by(User.role, User.name, User.id)
    ).all()
    labels = {Role.UNIT_STAFF.value: "填报人", Role.UNIT_HEAD.value: "单位负责人"}
    return [(r.id, f"{r.name}（{labels[r.role]}）") for r in rows]


def parse_due(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _bump(item: Rectification, expected_version: int | None) -> None:
    """The version check of a move on the item, in its UPDATE: the loser of a race gets 409."""
    if expected_version is not None and expected_version != item.version:
        raise Conflict()
    taken = db.session.execute(
        update(Rectification)
        .where(Rectification.id == item.id, Rectification.version == item.version)
        .values(version=Rectification.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise Conflict()
    db.session.expire(item, ["version"])


def edit(
    user: Actor,
    item_id: int,
    *,
    owner_id: int | None,
    due_text: str,
    reason: str,
    expected_version: int | None,
    today: date | None = None,
) -> Rectification:
    """Change an open item's owner and due date, with a reason: an audit row, a notice to
    the owner (and to the one who no longer is), and the reminders follow the new date."""
    begin_write()
    today = today or date.today()
    item = db.session.get(Rectification, item_id)
    if item is None or not may_see(user, item):
        raise NotFound("未找到该整改事项")
    if not may_edit(user, item):
        if item.state == "closed":
            raise ValidationFailed("该整改事项已销号，不能再调整")
        raise Forbidden("您无权执行此操作")
    if expected_version is not None and expected_version != item.version:
        raise Conflict()  # someone changed or closed it since the page was opened
    errors: dict[str, str] = {}
    choices = dict(owner_choices(item))
    if owner_id not in choices:
        errors["owner"] = "请从本单位的填报人和单位负责人中选择责任人"
    due = parse_due(due_text)
    latest = today.replace(year=today.year + MAX_DUE_YEARS)
    if due is None:
        errors["due_on"] = "整改期限须为日期，例如 2027-03-31"
    elif due < today:
        errors["due_on"] = f"整改期限不能早于今天（{today.isoformat()}）"
    elif due > latest:
        errors["due_on"] = f"整改期限不能晚于 {latest.isoformat()}"
    if not reason.strip():
        errors["reason"] = "调整须填写理由"
    if not errors and owner_id == item.owner_id and due == item.due_on:
        errors["due_on"] = "责任人和整改期限都没有改变"
    if errors:
        raise RectifyInvalid("整改事项调整有误", errors)
    assert due is not None and owner_id is not None
    before_owner, before_due = item.owner_id, item.due_on
    _bump(item, expected_version)
    item.owner_id = owner_id
    item.due_on = due
    # The reminders follow the new date: the interval starts again (at most one a day).
    every = int(current_app.config.get("RECTIFICATION_REMIND_EVERY_DAYS", 7))
    if item.last_reminded_on is not None:
        reminded_today = item.last_reminded_on >= today
        item.last_reminded_on = today - timedelta(days=every - 1) if reminded_today else None
    changes = []
    if owner_id != before_owner:
        changes.append(f"责任人 {_name(before_owner)} → {_name(owner_id)}")
    if due != before_due:
        changes.append(f"整改期限 {before_due.isoformat()} → {due.isoformat()}")
    text = f"整改事项调整：{item.problem}；{'；'.join(changes)}；理由：{reason.strip()}"
    _audit(
        user,
        item.evaluation_id,
        "rectify_edit",
        text,
        {
            "rectification_id": item.id,
            "owner": [before_owner, owner_id],
            "due_on": [before_due.isoformat(), due.isoformat()],
        },
    )
    now = utcnow()
    for to in {before_owner, owner_id}:
        db.session.add(
            Notice(
                user_id=to,
                evaluation_id=item.evaluation_id,
                kind="rectify",
                title=f"整改事项已调整：{item.problem}"[:300],
                body=f"{'；'.join(changes)}。\n调整人：{user.name}；理由：{reason.strip()}",
                created_at=now,
            )
        )
    db.session.commit()
    return item


def _name(user_id: int) -> str:
    person = db.session.get(User, user_id)
    return person.name if person is not None else str(user_id)


class RectifyInvalid(ValidationFailed):
    """Field messages (owner, due_on, reason) for the edit page."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message, list(fields.values()))
        self.fields = fields


@dataclass
class RectRow:
    id: int
    evaluation_id: int
    project: str
    unit: str
    problem: str
    measure: str
    owner: str
    due_on: date
    state: str
    state_label: str
    overdue: bool
    closing_note: str
    can_close: bool
    can_edit: bool = False
    version: int = 1


def visible(user: Actor, cycle_id: int | None = None, today: date | None = None) -> list[RectRow]:
    today = today or date.today()
    role = Role(user.role)
    query = select(Rectification).options(
        joinedload(Rectification.evaluation).joinedload(Evaluation.project),
        joinedload(Rectification.unit),
        joinedload(Rectification.owner),
    )
    if role is Role.FINANCE:
        pass
    elif role is Role.REVIEWER:
        query = query.where(Rectification.department_id == user.org_id)
    elif role in (Role.UNIT_STAFF, Role.UNIT_HEAD):
        query = query.where(Rectification.unit_id == user.org_id)
    else:
        return []
    if cycle_id is not None:
        query = query.where(Rectification.cycle_id == cycle_id)
    items = db.session.scalars(
        query.order_by(Rectification.state.desc(), Rectification.due_on, Rectification.id)
    )
    return [
        RectRow(
            r.id,
            r.evaluation_id,
            r.evaluation.project.name,
            r.unit.name,
            r.problem,
            r.measure,
            r.owner.name,
            r.due_on,
            r.state,
            STATE_LABELS[r.state],
            r.state == "open" and r.due_on < today,
            r.closing_note or "",
            r.state == "open" and may_close(user, r),
            may_edit(user, r),
            r.version,
        )
        for r in items
    ]


def counts(user: Actor, today: date | None = None) -> dict[str, int]:
    """整改 states for the dashboard, in the user's scope: open, overdue, closed."""
    today = today or date.today()
    role = Role(user.role)
    query = select(Rectification.state, Rectification.due_on, func.count()).group_by(
        Rectification.state, Rectification.due_on
    )
    if role is Role.REVIEWER:
        query = query.where(Rectification.department_id == user.org_id)
    elif role not in (Role.FINANCE, Role.SYSADMIN):
        return {}
    out = {"open": 0, "overdue": 0, "closed": 0}
    for state, due_on, n in db.session.execute(query):
        if state == "closed":
            out["closed"] += n
        else:
            out["open"] += n
            if due_on < today:
                out["overdue"] += n
    return out


# --- reminders until closed ------------------------------------------------------------------


def remind(today: date | None = None) -> list[int]:
    """Remind the owner of every open item due within the interval or overdue, once per
    interval: an in-app notice and a delivery claim (the reminders' mail queue sends it).
    Returns the new claim ids."""
    begin_write()
    today = today or date.today()
    every = int(current_app.config.get("RECTIFICATION_REMIND_EVERY_DAYS", 7))
    due = db.session.scalars(
        select(Rectification)
        .where(Rectification.state == "open", Rectification.due_on <= today + timedelta(days=every))
        .order_by(Rectification.id)
    ).all()
    claims: list[ReminderClaim] = []
    now = utcnow()
    for item in due:
        if item.last_reminded_on is not None and item.last_reminded_on > today - timedelta(
            days=every
        ):
            continue
        item.last_reminded_on = today
        late = item.due_on < today
        title = f"{'整改已逾期' if late else '整改即将到期'}：{item.problem}"[:300]
        body = f"整改措施：{item.measure}\n整改期限：{item.due_on}；请按期完成并在系统中销号。"
        db.session.add(
            Notice(
                user_id=item.owner_id,
                evaluation_id=item.evaluation_id,
                kind="rectify",
                title=title,
                body=body,
                created_at=now,
            )
        )
        claim = ReminderClaim(
            evaluation_id=item.evaluation_id,
            stage=RECTIFY_STAGE,
            step=f"x{item.id}-{today.isoformat()}"[:20],
            user_id=item.owner_id,
            deadline=item.due_on,
            status="claimed",
            attempts=0,
            claimed_at=now,
        )
        db.session.add(claim)
        claims.append(claim)
    db.session.commit()
    return [c.id for c in claims]


def build_mail(claim: ReminderClaim, user: User, evaluation: Evaluation) -> Any:
    """The mail of a 整改 reminder claim (None once the item is closed: nothing to send)."""
    from workflow.core.mail import render_mail
    from workflow.reminders.operations import evaluation_link

    item_id = int(claim.step[1:].split("-", 1)[0])
    item = db.session.get(Rectification, item_id)
    # Closed since, or given to someone else: nothing to send.
    if item is None or item.state != "open" or item.owner_id != claim.user_id:
        return None
    return render_mail(
        "notice",
        f"整改提醒：{evaluation.project.name}",
        to=(user.email,),
        user=user,
        event_title="请按期完成整改并销号",
        project=evaluation.project.name,
        unit=evaluation.unit.name,
        department=evaluation.department.name,
        state=f"整改期限 {item.due_on}",
        reason=f"存在问题：{item.problem}；整改措施：{item.measure}",
        actor="",
        total=None,
        grade=None,
        link=evaluation_link(evaluation.id),
    )


def _audit(
    user: Actor, evaluation_id: int | None, event: str, reason: str, extra: dict[str, Any]
) -> None:
    db.session.add(
        AuditLog(
            evaluation_id=evaluation_id,
            actor_id=user.id,
            actor_name=user.name,
            role=user.role,
            org_id=user.org_id,
            org_name=user.org.name if user.org else "",
            event=event,
            reason=reason,
            scores=extra,
        )
    )
