"""Deadline reminders: which evaluations are due for which step of the ladder, and delivery.

The ladder (default 7, 3 and 1 days before the deadline, then daily while overdue) is
counted per cycle in calendar days or in Chinese working days (official holidays and
make-up days, 调休, from chinese_calendar).

Exactly once per (evaluation, stage, step, user): the scan inserts the claim rows with
INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING, so that of two beats (or a
redelivered task) only one gets a row back, and only the holder of a row sends. The scan
is one set-based statement per (cycle, stage), not a loop over evaluations.

The same claim table carries the notices of workflow steps (stage "notify", step
"m<outbox id>", see workflow.notify): one delivery ledger with status, attempts and the
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

from workflow.database import begin_write
from workflow.extensions import db
from workflow.models import STAGES, Cycle, Evaluation, Notice, ReminderClaim, User
from workflow.models.cycle import DEFAULT_LADDER

log = logging.getLogger(__name__)

UNIT_ROLES = ("unit_staff", "unit_head")
STATUS_CLAIMED = "claimed"
STATUS_SENDING = "sending"
# A "sending" mark older than this belongs to a worker that died mid-send: deliver again.
SENDING_STALE = timedelta(minutes=10)
STATUS_RETRYING = "retrying"
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


def is_working_day(day: date) -> bool:
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Years the package does not know yet: Monday to Friday.
        return day.weekday() < 5


def days_left(today: date, deadline: date, day_kind: str) -> int:
    """Days from today to the deadline: 0 on the deadline day, negative once overdue.

    Working days count the working days after today up to and including the deadline
    (after the deadline up to and including today when overdue).
    """
    if day_kind != "working":
        return (deadline - today).days
    if deadline == today:
        return 0
    step = 1 if deadline > today else -1
    start, end = (today, deadline) if step == 1 else (deadline, today)
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        if is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count * step


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
                groups.append(DueGroup(cycle.id, stage, found[0], deadline, found[1]))
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
        title = _reminder_title(stage_labels[group.stage], group.deadline, group.days_left)
        # The notices of exactly the claims this scan inserted (same step, same claim time,
        # this cycle), again as one INSERT ... SELECT.
        mine = (
            select(
                ReminderClaim.user_id,
                ReminderClaim.evaluation_id,
                literal("reminder"),
                literal(title),
                literal(f"截止日期：{group.deadline.isoformat()}"),
                literal(claimed_at),
            )
            .join(Evaluation, Evaluation.id == ReminderClaim.evaluation_id)
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
                )
            )
        ).scalars()
    )


def _reminder_title(stage_label: str, deadline: date, left: int) -> str:
    if left > 0:
        return f"【提醒】{stage_label}将于 {deadline.isoformat()} 截止（还剩 {left} 天）"
    if left == 0:
        return f"【提醒】{stage_label}今天（{deadline.isoformat()}）截止"
    return f"【逾期】{stage_label}已于 {deadline.isoformat()} 截止，已逾期 {-left} 天"


# --------------------------------------------------------------------------- delivery


def evaluation_link(evaluation_id: int) -> str:
    base = str(current_app.config.get("APP_BASE_URL", "")).rstrip("/")
    return f"{base}/evaluations/{evaluation_id}"


def build_reminder_mail(
    claim: ReminderClaim, user: User, evaluation: Evaluation, as_of: datetime | None = None
) -> Any:
    from workflow.mail import render_mail

    label = STAGES[claim.stage][0]
    # As of the scanned moment: `reminders run --now` describes the step that was due then.
    today = local_today(as_of or datetime.now(UTC))
    left = days_left(today, claim.deadline, evaluation.cycle.day_kind)
    return render_mail(
        "reminder",
        _reminder_title(label, claim.deadline, left) + f"：{evaluation.project.name}",
        to=(user.email,),
        user=user,
        project=evaluation.project.name,
        unit=evaluation.unit.name,
        stage=label,
        deadline=claim.deadline.isoformat(),
        days_left=left,
        day_kind="工作日" if evaluation.cycle.day_kind == "working" else "天",
        link=evaluation_link(evaluation.id),
        state=evaluation.state_label,
    )


class Delivery:
    """Outcome of one delivery attempt."""

    SENT = "sent"
    SKIPPED = "skipped"
    ALREADY = "already"
    IN_PROGRESS = "in_progress"
    MISSING = "missing"


def deliver(claim_id: int, as_of: datetime | None = None) -> str:
    """Send the mail of one claim (reminder or step notice). Raises MailError to retry.

    Re-reads everything: a claim already sent is a no-op (redelivery), and a reminder for
    an evaluation that has left its stage is skipped.
    """
    from workflow.mail import MailError, send_mail, valid_address

    begin_write()
    # The row lock makes a second delivery of the same claim (a redelivered or requeued
    # task) wait until the first has marked it "sending" (or sent), and then leave it;
    # SQLite's IMMEDIATE does the same.
    claim = db.session.execute(
        select(ReminderClaim)
        .where(ReminderClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if claim is None:
        db.session.rollback()
        return Delivery.MISSING
    if claim.status in (STATUS_SENT, STATUS_SKIPPED):
        db.session.rollback()
        return Delivery.ALREADY
    now = datetime.now(UTC)
    if claim.status == STATUS_SENDING and claim.sending_at is not None:
        since = (
            claim.sending_at if claim.sending_at.tzinfo else claim.sending_at.replace(tzinfo=UTC)
        )
        if now - since < SENDING_STALE:
            db.session.rollback()
            return Delivery.IN_PROGRESS
    user = db.session.get(User, claim.user_id)
    evaluation = db.session.get(Evaluation, claim.evaluation_id)
    if user is None or evaluation is None:
        return _finish(claim, STATUS_SKIPPED, "用户或评价已不存在")
    if claim.stage in STAGES and evaluation.state not in STAGES[claim.stage][1]:
        return _finish(claim, STATUS_SKIPPED, "评价已离开该阶段，不再提醒")
    if not user.active:
        return _finish(claim, STATUS_SKIPPED, "用户已停用")
    if not valid_address(user.email):
        return _finish(claim, STATUS_SKIPPED, "用户没有有效的邮箱地址（站内通知已生成）")
    if claim.stage == NOTIFY_STAGE:
        from workflow.notify import build_notify_mail

        mail = build_notify_mail(claim, user, evaluation)
    else:
        mail = build_reminder_mail(claim, user, evaluation, as_of)
    if mail is None:
        return _finish(claim, STATUS_SKIPPED, "无邮件内容")
    # Mark and commit before talking to SMTP: a slow mail server must not hold the database
    # lock (on SQLite it would stop every web request that writes).
    claim.status = STATUS_SENDING
    claim.sending_at = now
    db.session.commit()
    try:
        send_mail(mail)
    except MailError:
        raise  # the task records the failure and retries with backoff
    except Exception as exc:  # a mail that cannot be built or sent at all: same path
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
    begin_write()
    claim = db.session.get(ReminderClaim, claim_id, populate_existing=True)
    if claim is None:
        db.session.rollback()
        return Delivery.MISSING
    claim.status = STATUS_SENT
    claim.attempts = (claim.attempts or 0) + 1
    claim.sent_at = datetime.now(UTC)
    claim.last_error = None
    db.session.commit()
    return Delivery.SENT


def _finish(claim: ReminderClaim, status: str, note: str) -> str:
    claim.status = status
    claim.last_error = note
    db.session.commit()
    return Delivery.SKIPPED


def record_failure(claim_id: int, error: str, final: bool) -> None:
    """Count a failed attempt; after the last retry the claim shows as failed to the admin."""
    db.session.rollback()
    begin_write()
    claim = db.session.get(ReminderClaim, claim_id)
    if claim is None:
        return
    claim.attempts = (claim.attempts or 0) + 1
    claim.last_error = error[:2000]
    claim.status = STATUS_FAILED if final else STATUS_RETRYING
    db.session.commit()


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


@dataclass
class RunSummary:
    claimed: int
    sent: int
    skipped: int
    failed: int
    errors: list[str] = field(default_factory=list)


def run_now(now: datetime) -> RunSummary:
    """Claim and send synchronously (the `flask reminders run` command); the beat task does
    the same claim and hands each claim to the mail queue instead."""
    from workflow.mail import MailError

    scan = claim_due(now)
    summary = RunSummary(claimed=len(scan.claim_ids), sent=0, skipped=0, failed=0)
    for claim_id in scan.claim_ids:
        try:
            outcome = deliver(claim_id, as_of=now)
        except MailError as exc:
            record_failure(claim_id, str(exc), final=True)
            summary.failed += 1
            summary.errors.append(str(exc))
            continue
        if outcome == Delivery.SENT:
            summary.sent += 1
        else:
            summary.skipped += 1
    return summary
