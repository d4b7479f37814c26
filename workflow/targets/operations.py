"""Setting and approving a project's performance targets (绩效目标申报与审核): one operation
per request, one commit, as the evaluation's.

The working copy (``TargetSet.draft``) keeps what the unit typed, valid or not. Submitting
checks it against the cycle's framework (``scoring.frameworks.check_targets``) and stores it
as a new immutable version; approving puts that version in force. After approval a change
is an adjustment (调整) with a reason; the approved version stays in force until the
department approves the adjustment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    Org,
    OrgKind,
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


@dataclass
class ImportResult:
    imported: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


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


def _new_version(
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
    _commit()
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
            version = _new_version(targets, user, kind, targets.pending_reason if adjusting else "")
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
    _flush()
    audit_targets(targets, user, f"targets_{transition.event.value}", from_state, text, details)
    message = _notify(targets, transition, user, text)
    _commit()
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


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise TargetsConflict() from exc


def _commit() -> None:
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


# --- importing approved targets (finance, administrators) ------------------------------------

# The budget system's export, one object per project (README, "Targets from the budget
# system"): {"project_code", "unit_code", "year", "goal", "rows": [{level1, level2, name,
# nature, value, unit, weight}], "project_name"?}.
IMPORT_KEYS = ("project_code", "unit_code", "year", "goal", "rows")


def import_approved_targets(
    user: Actor, payload: Any, *, filename: str, cycle: Cycle
) -> ImportResult:
    """Import many projects' targets as approved, all or nothing, with one audit row per
    project naming who imported and which file."""
    begin_write()
    if not policy.can_import_targets(user):
        raise TargetsForbidden("只有财政或系统管理员可以导入已批复的绩效目标")
    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架，不能导入绩效目标")
    items = payload.get("projects") if isinstance(payload, Mapping) else payload
    if not isinstance(items, list) or not items:
        raise TargetsError("文件内容应为项目数组（或含 projects 数组的对象）")
    framework = cycle.framework.framework()
    result = ImportResult()
    staged: list[tuple[Project, ProjectTargets, str]] = []
    units = {org.code: org for org in db.session.scalars(select(Org).where(Org.code.is_not(None)))}
    for number, item in enumerate(items, start=1):
        where = f"第{number}个项目"
        if not isinstance(item, Mapping):
            result.problems.append(f"{where}：应为对象")
            continue
        missing = [key for key in IMPORT_KEYS if key not in item]
        if missing:
            result.problems.append(f"{where}：缺少字段 {'、'.join(missing)}")
            continue
        where = f"{where}（{item['project_code']}）"
        if str(item["year"]) != str(cycle.year):
            result.problems.append(f"{where}：年度 {item['year']} 与评价任务年度 {cycle.year} 不符")
            continue
        unit = units.get(str(item["unit_code"]))
        if unit is None or unit.kind != OrgKind.UNIT:
            result.problems.append(f"{where}：找不到单位编码 {item['unit_code']}")
            continue
        rows = item["rows"] if isinstance(item["rows"], list) else []
        parsed = ProjectTargets.from_dict(
            {
                "goal": str(item["goal"] or ""),
                "rows": [
                    {**{k: str(r.get(k, "") or "") for k in ROW_FIELDS}, "source": "import"}
                    for r in rows
                    if isinstance(r, Mapping)
                ],
            }
        )
        problems = check_targets(framework, parsed)
        if problems:
            result.problems.extend(f"{where}：{p.message}" for p in problems)
            continue
        project = db.session.scalar(
            select(Project).where(
                Project.code == str(item["project_code"]), Project.unit_id == unit.id
            )
        )
        if project is None:
            name = str(item.get("project_name") or item["project_code"])[:300]
            project = Project(unit=unit, name=name, code=str(item["project_code"]))
            db.session.add(project)
        staged.append((project, parsed, where))
    if result.problems:
        db.session.rollback()
        return result
    db.session.flush()
    for project, parsed, where in staged:
        targets = open_targets(project, cycle, parsed.goal)
        if targets.state == TargetState.SUBMITTED.value:
            result.problems.append(f"{where}：该项目的绩效目标正在审核中，不能导入覆盖")
            continue
        db.session.flush()
        from_state = targets.state
        targets.goal = parsed.goal
        targets.draft = {"rows": [raw_row(row) for row in parsed.rows]}
        kind = "adjustment" if targets.current_version_id is not None else "initial"
        version = _new_version(targets, user, kind, f"导入：{filename}", source=filename[:200])
        db.session.flush()
        approve_version(targets, version, user)
        targets.state = TargetState.APPROVED.value
        targets.updated_at = utcnow()
        _flush()
        audit_targets(
            targets,
            user,
            "targets_import",
            from_state,
            f"{user.name} 导入已批复绩效目标，文件：{filename}",
            {"target_version": version.number, "file": filename},
        )
        result.imported.append(project.name)
    if result.problems:
        db.session.rollback()
        result.imported = []
        return result
    _commit()
    return result


def parse_json_upload(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TargetsError(f"文件不是有效的 JSON：{exc}") from exc


# --- frameworks from schemes -----------------------------------------------------------------

# Which first levels a layout's framework keeps for itself, and per-level rule overrides
# (the shipped frameworks' own, scoring.frameworks.compile._BUILTIN).
LAYOUT_SHARED: Mapping[str, tuple[tuple[str, ...], Mapping[str, Mapping[str, Any]]]] = {
    "jiangsu": (("决策", "过程"), {}),
    "central": (("预算执行",), {"满意度指标": {">=": {"kind": "satisfaction"}}}),
}


def split_for_layout(scheme: Mapping[str, Any]) -> tuple[Framework, ProjectTargets]:
    """A scheme as framework plus targets, with the shared levels of its layout."""
    from scoring.frameworks import split_scheme

    shared, rules = LAYOUT_SHARED.get(str(scheme.get("layout", "")), ((), {}))
    names = {node["name"] for node in scheme.get("tree", [])}
    if not set(shared) <= names:
        shared, rules = (), {}
    return split_scheme(scheme, shared, level_rules=rules, source="scheme")


def framework_record_of_scheme(scheme: Mapping[str, Any]) -> Any:
    """The stored framework of a cycle's scheme (no commit); None when the scheme cannot be
    a framework (a first level without a weight)."""
    from scoring.schemes import SchemeError
    from workflow.models import framework_record_for

    try:
        framework, _ = split_for_layout(scheme)
    except SchemeError:
        return None
    return framework_record_for(framework.to_dict())


def approve_as_imported(
    project: Project,
    cycle: Cycle,
    targets_data: ProjectTargets,
    *,
    user: Actor | None,
    source: str,
    actor_name: str | None = None,
) -> TargetSet:
    """Targets put in force without the unit-department round (an import of a form or of
    the budget system's approved targets, the demo), with its audit row (no commit)."""
    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架，不能导入绩效目标")
    framework = cycle.framework.framework()
    problems = check_targets(framework, targets_data)
    if problems:
        raise TargetsInvalid("绩效目标与本年度评价框架不符", problems)
    targets = open_targets(project, cycle, targets_data.goal)
    db.session.flush()
    from_state = targets.state
    targets.goal = targets_data.goal
    targets.draft = {"rows": [raw_row(row) for row in targets_data.rows]}
    kind = "adjustment" if targets.current_version_id is not None else "initial"
    version = _new_version(targets, user, kind, f"导入：{source}", source=source[:200])
    db.session.flush()
    approve_version(targets, version, user)
    targets.state = TargetState.APPROVED.value
    targets.updated_at = utcnow()
    db.session.flush()
    audit_targets(
        targets,
        user,
        "targets_import",
        from_state,
        f"导入已批复绩效目标：{source}",
        {"target_version": version.number, "file": source},
        actor_name=actor_name,
    )
    return targets


def targets_of_form(cycle: Cycle, scheme: Mapping[str, Any]) -> ProjectTargets:
    """The project's own rows of an imported form, under the cycle framework's levels."""
    from scoring.frameworks import targets_from_scheme

    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架")
    return targets_from_scheme(cycle.framework.framework(), scheme, source="import")


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
