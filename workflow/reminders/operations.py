"""Deadline reminders: which evaluations are due for which step of the ladder, and delivery.

The ladder (default 7, 3 and 1 days before the deadline, then daily while overdue) is
counted per cycle in calendar days or in Chinese working days (official holidays and
make-up days, 调休, from chinese_calendar).

Exactly once per (evaluation, stage, step, user): the scan inserts the claim rows with
INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING, so that of two beats (or a
redelivered task) only one gets a row back, and only the holder of a row sends. The scan
is one set-based statement per (cycle, stage), not a loop over evaluations.

The same claim table carries the notices of workflow steps (stage "notify", step
"m<outbox id>", see workflow.notices.operations): one delivery ledger with status, attempts and the
last error, which the administrator sees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, exists, literal, literal_column, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from workflow.core.database import begin_write
from workflow.core.days import days_left, days_text, is_working_day
from workflow.core.extensions import db
from workflow.models import STAGES, Cycle, Evaluation, Notice, Project, ReminderClaim, User
from workflow.models.cycle import DEFAULT_LADDER

log = logging.getLogger(__name__)

UNIT_ROLES = ("unit_staff", "unit_head")
STATUS_CLAIMED = "claimed"
STATUS_SENDING = "sending"
# A "sending" mark older than this belongs to a worker that died mid-send: deliver again.
SENDING_STALE = timedelta(minutes=10)
STATUS_RETRYING = "retrying"
# Longer than any back-off delay (celeryconfig caps them at 15 minutes) plus a send.
RETRY_STALE = timedelta(minutes=30)
STATUS_SENT = "sent"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"
NOTIFY_STAGE = "notify"


def local_tz() -> ZoneInfo:
    try:
        name = str(current_app.config.get("REMINDER_TZ") or "Asia/Shanghai")
    except RuntimeError:
        name = "Asia/Shanghai"
    return ZoneInfo(name)


def local_today(now: datetime) -> date:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(local_tz()).date()


# --------------------------------------------------------------------------- day counting


def due_step(
    today: date, deadline: date, ladder: list[int] | None, day_kind: str
) -> tuple[str, int] | None:
    """The ladder step due today ("d7", "d3", "d1" or "o<date>" when overdue) and days left.

    A step stays due until the next one starts, so a beat that was down on the day of
    "d7" still sends it at 5 days left, and each step is sent once (the claim key).
    """
    left = days_left(today, deadline, day_kind)
    if today > deadline:  # overdue (0 working days overdue is still overdue, on a holiday)
        if day_kind == "working" and not is_working_day(today):
            return None
        return f"o{today.isoformat()}", left
    steps = sorted(int(n) for n in (ladder if ladder else DEFAULT_LADDER) if int(n) >= 0)
    for n in steps:
        if left <= n:
            return f"d{n}", left
    return None


# --------------------------------------------------------------------------- the scan


def responsible_condition(stage: str) -> Any:
    """Who answers for an evaluation in a stage, as a join condition on users."""
    if stage == "submit":
        return and_(User.role.in_(UNIT_ROLES), User.org_id == Evaluation.unit_id)
    if stage == "review":
        return and_(User.role == "reviewer", User.org_id == Evaluation.department_id)
    if stage == "confirm":
        return User.role == "finance"
    raise ValueError(stage)


def due_query(cycle_id: int, stage: str, step: str, unclaimed_only: bool = True) -> Select[Any]:
    """(evaluation id, user id) pairs in the stage (with no claim yet for this step).

    The claiming INSERT leaves `unclaimed_only` off and lets ON CONFLICT skip the claimed
    pairs through the unique index: an anti-join against the table being inserted into
    made PostgreSQL rescan the new rows for every row (44 s instead of 1.4 s for 160,000).
    """
    states = STAGES[stage][1]
    claimed = exists().where(
        ReminderClaim.evaluation_id == Evaluation.id,
        ReminderClaim.stage == stage,
        ReminderClaim.step == step,
        ReminderClaim.user_id == User.id,
    )
    query = (
        select(Evaluation.id.label("evaluation_id"), User.id.label("user_id"))
        .join(User, responsible_condition(stage))
        .where(
            Evaluation.cycle_id == cycle_id, Evaluation.state.in_(states), User.active.is_(true())
        )
    )
    return query.where(~claimed) if unclaimed_only else query


@dataclass
class DueGroup:
    cycle_id: int
    stage: str
    step: str
    deadline: date
    days_left: int
    day_kind: str = "calendar"


@dataclass
class ScanResult:
    today: date
    groups: list[DueGroup] = field(default_factory=list)
    claim_ids: list[int] = field(default_factory=list)


def due_groups(now: datetime) -> list[DueGroup]:
    today = local_today(now)
    groups: list[DueGroup] = []
    cycles = db.session.execute(select(Cycle).where(Cycle.active.is_(true()))).scalars().all()
    for cycle in cycles:
        for stage in STAGES:
            deadline = cycle.deadline_for(stage)
            found = due_step(today, deadline, list(cycle.reminder_days or []), cycle.day_kind)
            if found is not None:
                groups.append(
                    DueGroup(cycle.id, stage, found[0], deadline, found[1], cycle.day_kind)
                )
    return groups


def find_due(now: datetime) -> list[tuple[DueGroup, list[tuple[int, int]]]]:
    """What is due at this moment, without claiming it (read-only; used by the benchmark)."""
    return [
        (g, [tuple(r) for r in db.session.execute(due_query(g.cycle_id, g.stage, g.step))])  # type: ignore[misc]
        for g in due_groups(now)
    ]


def _insert_claims(select_stmt: Select[Any]) -> list[tuple[int, int, int]]:
    """INSERT the selected claim rows; return (claim id, evaluation id, user id) of the rows
    this transaction inserted (a concurrent scan's rows are skipped, not returned)."""
    dialect = db.session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = [
        "evaluation_id",
        "stage",
        "step",
        "user_id",
        "deadline",
        "status",
        "attempts",
        "claimed_at",
    ]
    # SQLite needs a WHERE in INSERT ... SELECT ... ON CONFLICT (else "ON" parses as a join).
    select_stmt = select_stmt.where(literal_column("1") == 1)
    table = ReminderClaim.__table__  # Core, not ORM: no per-row ORM bookkeeping
    stmt = (
        insert_fn(table)
        .from_select(columns, select_stmt)
        .on_conflict_do_nothing(index_elements=["evaluation_id", "stage", "step", "user_id"])
        .returning(table.c.id, table.c.evaluation_id, table.c.user_id)
    )
    return [(int(a), int(b), int(c)) for a, b, c in db.session.execute(stmt)]


def claim_due(now: datetime) -> ScanResult:
    """Claim every due reminder and create its in-app notice, in one transaction."""
    begin_write()  # IMMEDIATE on SQLite: two scans at once take turns instead of failing
    result = ScanResult(today=local_today(now))
    # The real time of the claim (the moment scanned may be another: `reminders run --now`).
    claimed_at = datetime.now(UTC)
    stage_labels = {key: label for key, (label, _) in STAGES.items()}
    for group in due_groups(now):
        pairs = due_query(group.cycle_id, group.stage, group.step, unclaimed_only=False).subquery()
        rows = _insert_claims(
            select(
                pairs.c.evaluation_id,
                literal(group.stage),
                literal(group.step),
                pairs.c.user_id,
                literal(group.deadline),
                literal(STATUS_CLAIMED),
                literal(0),
                literal(claimed_at),
            )
        )
        if not rows:
            continue
        result.groups.append(group)
        result.claim_ids.extend(r[0] for r in rows)
        title = _reminder_title(
            stage_labels[group.stage], group.deadline, group.days_left, group.day_kind
        )
        # The notices of exactly the claims this scan inserted (same step, same claim time,
        # this cycle), again as one INSERT ... SELECT.
        mine = (
            select(
                ReminderClaim.user_id,
                ReminderClaim.evaluation_id,
                literal("reminder"),
                # The notice names its project, as the e-mail's subject does.
                literal(f"{title}：").concat(Project.name),
                literal(f"截止日期：{group.deadline.isoformat()}"),
                literal(claimed_at),
            )
            .join(Evaluation, Evaluation.id == ReminderClaim.evaluation_id)
            .join(Project, Project.id == Evaluation.project_id)
            .where(
                ReminderClaim.stage == group.stage,
                ReminderClaim.step == group.step,
                ReminderClaim.claimed_at == claimed_at,
                Evaluation.cycle_id == group.cycle_id,
            )
        )
        db.session.execute(
            Notice.__table__.insert().from_select(
                ["user_id", "evaluation_id", "kind", "title", "body", "created_at"], mine
            )
        )
    db.session.commit()
    if result.claim_ids:
        log.info("reminders claimed: %d at %s", len(result.claim_ids), now.isoformat())
    return result


def stale_claims(now: datetime, older_than: timedelta = timedelta(minutes=15)) -> list[int]:
    """Claims whose mail task never ran (a scan that crashed before enqueueing), and those
    left "sending" by a worker that died while talking to SMTP."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    cutoff = now - older_than
    return list(
        db.session.execute(
            select(ReminderClaim.id).where(
                or_(
                    and_(
                        ReminderClaim.status == STATUS_CLAIMED,
                        ReminderClaim.attempts == 0,
                        ReminderClaim.claimed_at < cutoff,
                    ),
                    and_(
                        ReminderClaim.status == STATUS_SENDING,
                        ReminderClaim.sending_at < now - SENDING_STALE,
                    ),
                    # A retry that never came (its message lost with the broker, or never
                    # queued by `flask reminders run`): past the longest back-off, requeue.
                    and_(
                        ReminderClaim.status == STATUS_RETRYING,
                        ReminderClaim.sending_at < now - RETRY_STALE,
                    ),
                )
            )
        ).scalars()
    )


def _reminder_title(stage_label: str, deadline: date, left: int, day_kind: str) -> str:
    if left > 0:
        return (
            f"【提醒】{stage_label}将于 {deadline.isoformat()} 截止（{days_text(left, day_kind)}）"
        )
    if left == 0:
        return f"【提醒】{stage_label}今天（{deadline.isoformat()}）截止"
    return f"【逾期】{stage_label}已于 {deadline.isoformat()} 截止，{days_text(left, day_kind)}"


# --------------------------------------------------------------------------- delivery


def evaluation_link(evaluation_id: int) -> str:
    base = str(current_app.config.get("APP_BASE_URL", "")).rstrip("/")
    return f"{base}/evaluations/{evaluation_id}"


def build_reminder_mail(
    claim: ReminderClaim, user: User, evaluation: Evaluation, as_of: datetime | None = None
) -> Any:
    from workflow.core.mail import render_mail

    label = STAGES[claim.stage][0]
    # As of the scanned moment: `reminders run --now` describes the step that was due then.
    today = local_today(as_of or datetime.now(UTC))
    left = days_left(today, claim.deadline, evaluation.cycle.day_kind)
    return render_mail(
        "reminder",
        _reminder_title(label, claim.deadline, left, evaluation.cycle.day_kind)
        + f"：{evaluation.project.name}",
        to=(user.email,),
        user=user,
        project=evaluation.project.name,
        unit=evaluation.unit.name,
        stage=label,
        deadline=claim.deadline.isoformat(),
        days_left=left,
        days_text=days_text(left, evaluation.cycle.day_kind),
        link=evaluation_link(evaluation.id),
        state=evaluation.state_label,
    )


def failed_deliveries(limit: int = 200) -> list[ReminderClaim]:
    """For the administrator: what still failed after every retry, newest first."""
    return list(
        db.session.execute(
            select(ReminderClaim)
            .where(ReminderClaim.status == STATUS_FAILED)
            .order_by(ReminderClaim.claimed_at.desc())
            .limit(limit)
        ).scalars()
    )
