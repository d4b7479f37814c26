"""Setting and approving a project's performance targets (绩效目标申报与审核): one operation
per request, one commit, as the evaluation's.

The working copy (``TargetSet.draft``) keeps what the unit typed, valid or not. Submitting
checks it against the cycle's framework (``scoring.frameworks.check_targets``) and stores it
as a new immutable version; approving puts that version in force. After approval a change
is an adjustment (调整) with a reason; the approved version stays in force until the
department approves the adjustment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from scoring.frameworks import (
    Framework,
    ProjectTargets,
    TargetProblem,
    TargetRow,
    assign_codes,
    check_targets,
)
from workflow import machine, policy
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.machine import TargetEvent, TargetState
from workflow.models import (
    Actor,
    AuditLog,
    Cycle,
    Evaluation,
    IndicatorScore,
    OutboxMessage,
    Project,
    TargetSet,
    TargetVersion,
    compiled_scheme,
    utcnow,
)
from workflow.models.digest import snapshot_digest

CONFLICT_MESSAGE = "已被他人处理，请刷新后重试"
NO_APPROVED_TARGETS = (
    "该项目尚无已批复的绩效目标，不能开始自评；请先填报绩效目标并经主管部门审核通过。"
)

# The fields of a row the unit types (the weight as typed, so that "abc" stays "abc").
ROW_FIELDS = ("level1", "level2", "name", "nature", "value", "unit", "weight")


class TargetsError(Exception):
    """A refusal with a Chinese message for the page and the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)


class TargetsNotFound(TargetsError):
    status = 404


class TargetsForbidden(TargetsError):
    status = 403


class TargetsConflict(TargetsError):
    status = 409

    def __init__(self, message: str = CONFLICT_MESSAGE) -> None:
        super().__init__(message)


class TargetsInvalid(TargetsError):
    status = 422

    def __init__(self, message: str, problems: Sequence[TargetProblem]) -> None:
        super().__init__(message, [p.message for p in problems])
        self.problems = list(problems)


# --- reading ---------------------------------------------------------------------------------


def framework_of(targets: TargetSet) -> Framework:
    cycle = targets.cycle
    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架，不能填报绩效目标")
    return cycle.framework.framework()


def working_rows(targets: TargetSet) -> list[dict[str, Any]]:
    """The rows the unit works on: the draft as typed, or, when there is none (approved and
    no adjustment begun), the rows of the version in force. An approved set keeps no copy
    of its version: the rows are stored once."""
    data = targets.draft or {}
    if "rows" in data:
        return list(data["rows"])
    version = targets.current_version
    if version is None:
        return []
    return [raw_row(row) for row in version.targets().rows]


def draft_targets(targets: TargetSet) -> ProjectTargets:
    """The working copy as the scoring package reads it (invalid numbers become 0 there;
    the typed text stays in the draft)."""
    return ProjectTargets.from_dict({"goal": targets.goal, "rows": working_rows(targets)})


def problems_of(targets: TargetSet) -> list[TargetProblem]:
    problems = check_targets(framework_of(targets), draft_targets(targets))
    # A weight typed as text would read as 0 ("分值须大于0"): say what was typed instead.
    for index, raw in enumerate(working_rows(targets), start=1):
        text = str(raw.get("weight", "")).strip()
        if text and not _is_number(text):
            problems = [p for p in problems if not (p.row == index and p.field == "weight")]
            name = str(raw.get("name", "")).strip() or "（未填名称）"
            problems.append(
                TargetProblem(index, "weight", f"第{index}行（{name}）：分值“{text}”不是数字")
            )
    return sorted(problems, key=lambda p: (p.row is None, p.row or 0))


def _is_number(text: str) -> bool:
    try:
        from decimal import Decimal

        return Decimal(text).is_finite()
    except ArithmeticError:
        return False


def load_targets_for(user: Actor, targets_id: int, action: str = policy.VIEW) -> TargetSet:
    """The targets if the user may do `action` on them; not visible → 404, never 403."""
    targets = db.session.get(
        TargetSet,
        targets_id,
        options=(
            joinedload(TargetSet.project),
            joinedload(TargetSet.unit),
            joinedload(TargetSet.department),
            joinedload(TargetSet.cycle),
        ),
    )
    if targets is None or not policy.can_view_targets(user, targets):
        raise TargetsNotFound("未找到该项目的绩效目标")
    if not policy.can_targets(user, action, targets):
        raise TargetsForbidden("您无权执行此操作")
    return targets


def targets_for(project_id: int, cycle_id: int) -> TargetSet | None:
    return db.session.scalar(
        select(TargetSet).where(TargetSet.project_id == project_id, TargetSet.cycle_id == cycle_id)
    )


def version_in_force(project: Project, cycle: Cycle) -> TargetVersion | None:
    """The approved version in force of this project's targets for the cycle."""
    targets = targets_for(project.id, cycle.id) if project.id is not None else None
    if targets is None:
        return None
    return targets.current_version


# --- creating --------------------------------------------------------------------------------


def open_targets(project: Project, cycle: Cycle, goal: str = "") -> TargetSet:
    """The project's targets for the cycle, a new empty draft when it has none (no commit)."""
    unit = project.unit
    if unit.parent_id is None:
        raise TargetsError("项目所属单位没有主管部门")
    found = targets_for(project.id, cycle.id) if project.id is not None else None
    if found is not None:
        return found
    targets = TargetSet(
        project=project,
        cycle=cycle,
        unit_id=unit.id,
        department_id=unit.parent_id,
        state=TargetState.DRAFT.value,
        version=1,
        pending_kind="initial",
        goal=goal,
        draft={"rows": []},
        updated_at=utcnow(),
    )
    db.session.add(targets)
    return targets


def raw_row(row: TargetRow) -> dict[str, Any]:
    """A row as the working copy keeps it (the weight as text)."""
    data = row.to_dict()
    data["weight"] = str(row.weight)
    data.setdefault("unit", "")
    return data


def new_version(
    targets: TargetSet, user: Actor | None, kind: str, reason: str, source: str = ""
) -> TargetVersion:
    framework = framework_of(targets)
    coded = assign_codes(framework, draft_targets(targets))
    rows = coded.to_dict()
    number = 1 + max((v.number for v in targets.versions), default=0)
    version = TargetVersion(
        target_set=targets,
        number=number,
        kind=kind,
        reason=reason,
        previous_id=targets.current_version_id,
        created_by_id=user.id if user is not None else None,
        created_at=utcnow(),
        source=source,
        digest=snapshot_digest(rows),
        rows=rows,
    )
    db.session.add(version)
    # The codes are the draft's from now on: an adjustment keeps the entries' keys.
    targets.draft = {"rows": [raw_row(row) for row in coded.rows]}
    return version


def approve_version(
    targets: TargetSet, version: TargetVersion, user: Actor | None
) -> list[Evaluation]:
    """Put a version in force. A draft evaluation of the project follows it (its unit has
    frozen nothing yet); one already submitted keeps the version it was submitted with."""
    version.approved_at = utcnow()
    version.approved_by_id = user.id if user is not None else None
    targets.current_version = version
    targets.pending_kind = "initial"
    targets.pending_reason = ""
    # The version holds the rows now; the working copy is rebuilt from it when needed.
    targets.draft = {}
    moved: list[Evaluation] = []
    evaluations = db.session.scalars(
        select(Evaluation).where(
            Evaluation.project_id == targets.project_id,
            Evaluation.cycle_id == targets.cycle_id,
            Evaluation.state == machine.State.DRAFT.value,
        )
    ).all()
    for evaluation in evaluations:
        _follow_version(evaluation, targets, version)
        moved.append(evaluation)
    return moved


def _follow_version(evaluation: Evaluation, targets: TargetSet, version: TargetVersion) -> None:
    import scoring

    framework = targets.cycle.framework
    scheme = scoring.scheme_from_dict(compiled_scheme(framework, version))
    evaluation.framework = framework
    evaluation.target_version = version
    by_code = {row.code: row for row in evaluation.rows}
    rows: list[IndicatorScore] = []
    for position, ind in enumerate(scheme.indicators):
        row = by_code.pop(ind.code, None) or IndicatorScore(code=ind.code, weight=ind.weight)
        row.position = position
        row.weight = ind.weight
        rows.append(row)
    evaluation.rows = rows
    evaluation.updated_at = utcnow()


# --- saving ----------------------------------------------------------------------------------


def save_targets(
    user: Actor,
    targets_id: int,
    *,
    goal: str,
    rows: Sequence[Mapping[str, Any]],
    reason: str | None = None,
    expected_version: int | None = None,
) -> tuple[TargetSet, list[TargetProblem]]:
    """Keep what was typed, valid or not; return the problems to show beside the rows."""
    begin_write()
    targets = load_targets_for(user, targets_id)
    action = (
        policy.TARGETS_ADJUST_EDIT
        if targets.state == TargetState.APPROVED.value
        else policy.TARGETS_EDIT
    )
    if not policy.can_targets(user, action, targets):
        if TargetState(targets.state) is TargetState.SUBMITTED and policy.target_scopes_for(
            user, targets
        ):
            raise TargetsConflict("绩效目标已提交审核，不能修改")
        raise TargetsForbidden("您无权修改该项目的绩效目标")
    _check_version(targets, expected_version)
    targets.goal = goal.strip()
    targets.draft = {"rows": [_clean_row(row) for row in rows]}
    if action == policy.TARGETS_ADJUST_EDIT:
        targets.pending_kind = "adjustment"
        targets.pending_reason = (reason or "").strip()
    targets.updated_at = utcnow()
    problems = problems_of(targets)
    commit_or_conflict()
    return targets, problems


def _clean_row(row: Mapping[str, Any]) -> dict[str, Any]:
    clean = {name: str(row.get(name, "") or "").strip() for name in ROW_FIELDS}
    for name in ("code", "source", "text", "rule_text"):
        if row.get(name):
            clean[name] = str(row[name])
    if row.get("rule"):
        clean["rule"] = dict(row["rule"])
    library = str(row.get("library_id", "") or "").strip()
    if library.isdigit():
        clean["library_id"] = int(library)
    return clean


# --- firing events ---------------------------------------------------------------------------


def fire_targets(
    user: Actor,
    targets_id: int,
    event: TargetEvent | str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> TargetSet:
    begin_write()
    targets = load_targets_for(user, targets_id)
    _check_version(targets, expected_version)
    if event == TargetEvent.ADJUST and not (reason or "").strip():
        reason = targets.pending_reason
    try:
        transition = machine.check_targets_event(
            targets.state, event, user.role, policy.target_scopes_for(user, targets), reason
        )
    except machine.NotPermitted as exc:
        raise TargetsForbidden(str(exc)) from exc
    except machine.TransitionError as exc:
        raise TargetsError(str(exc)) from exc
    from_state = targets.state
    text = (reason or "").strip()
    details: dict[str, Any] = {}
    for effect in transition.effects:
        if effect == "check":
            problems = problems_of(targets)
            if problems:
                raise TargetsInvalid("绩效目标尚有问题，不能提交", problems)
        elif effect == "new_version":
            adjusting = targets.current_version_id is not None
            if transition.event is TargetEvent.ADJUST:
                targets.pending_kind = "adjustment"
                targets.pending_reason = text
            kind = "adjustment" if adjusting else "initial"
            version = new_version(targets, user, kind, targets.pending_reason if adjusting else "")
            db.session.flush()
            details["target_version"] = version.number
        elif effect == "put_in_force":
            pending = _pending_version(targets)
            moved = approve_version(targets, pending, user)
            details["target_version"] = pending.number
            details["evaluations"] = [ev.id for ev in moved]
        elif effect == "notify_reviewers" or effect == "notify_unit":
            pass
        else:
            raise RuntimeError(f"targets machine effect {effect!r} has no implementation")
    if transition.event is TargetEvent.RETURN:
        targets.return_reason = text
    elif transition.event in (TargetEvent.SUBMIT, TargetEvent.ADJUST):
        targets.return_reason = ""
    targets.state = transition.target.value
    targets.updated_at = utcnow()
    flush_or_conflict()
    audit_targets(targets, user, f"targets_{transition.event.value}", from_state, text, details)
    message = _notify(targets, transition, user, text)
    commit_or_conflict()
    _dispatch([message.id] if message is not None else [])
    return targets


def _pending_version(targets: TargetSet) -> TargetVersion:
    """The version awaiting approval: the latest one, submitted after the one in force."""
    latest = max(targets.versions, key=lambda v: v.number, default=None)
    if latest is None or latest.approved_at is not None:
        raise TargetsError("没有待审核的绩效目标版本")
    return latest


def audit_targets(
    targets: TargetSet,
    user: Actor | None,
    event: str,
    from_state: str | None,
    reason: str | None,
    details: Mapping[str, Any] | None = None,
    *,
    actor_name: str | None = None,
) -> AuditLog:
    row = AuditLog(
        targets_id=targets.id,
        actor_id=user.id if user is not None else None,
        actor_name=actor_name or (user.name if user is not None else "系统"),
        role=user.role if user is not None else "system",
        org_id=user.org_id if user is not None else None,
        org_name=user.org.name if user is not None and user.org else "",
        event=event,
        from_state=from_state,
        to_state=targets.state,
        version=targets.version,
        reason=(reason or "").strip() or None,
        scores=dict(details) if details else None,
    )
    db.session.add(row)
    return row


def _notify(
    targets: TargetSet, transition: machine.TargetTransition, user: Actor, reason: str
) -> OutboxMessage | None:
    if not any(e.startswith("notify_") for e in transition.effects):
        return None
    message = OutboxMessage(
        kind="notify",
        payload={
            "targets_id": targets.id,
            "event": f"targets_{transition.event.value}",
            "reason": reason or None,
            "actor_id": user.id,
        },
    )
    db.session.add(message)
    return message


def _check_version(targets: TargetSet, expected: int | None) -> None:
    if expected is not None and targets.version != expected:
        raise TargetsConflict()


def flush_or_conflict() -> None:
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise TargetsConflict() from exc


def commit_or_conflict() -> None:
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise TargetsConflict() from exc


def _dispatch(ids: list[int]) -> None:
    if not ids:
        return
    from flask import current_app

    if not current_app.config.get("OUTBOX_DISPATCH", True):
        return
    from workflow.core.outbox import dispatch

    dispatch(ids)
