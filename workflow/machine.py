"""The evaluation state machine: states, events and who may fire them, as data.

This module is the one place that decides whether a state change is legal. It is pure
(no Flask, SQLAlchemy or Celery) so that the table can be tested exhaustively, drive the
buttons a page shows, and draw the state diagram in the README.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    DRAFT = "draft"
    SELF_SCORED = "self_scored"
    DEPT_REVIEW = "dept_review"
    FINANCE_CONFIRMATION = "finance_confirmation"
    CONFIRMED = "confirmed"


class Event(StrEnum):
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    START_REVIEW = "start_review"
    RETURN = "return"
    APPROVE = "approve"
    FINANCE_RETURN = "finance_return"
    CONFIRM = "confirm"
    REOPEN = "reopen"


class Role(StrEnum):
    UNIT_STAFF = "unit_staff"
    UNIT_HEAD = "unit_head"
    REVIEWER = "reviewer"
    FINANCE = "finance"
    # 三员分立 (GB/T 22239 §8.1.4.2 d / §8.1.5): three administrators, none of whom acts in a
    # business role. The system administrator was the only administrator before ("admin").
    SYSADMIN = "sysadmin"  # organisations, cycles, frameworks, business users
    SECADMIN = "secadmin"  # roles, locks, password resets, security settings
    AUDITOR = "auditor"  # reads the audit and security logs, nothing else
    # 抽查复核: an outside expert who re-checks the sampled evaluations assigned to them and
    # sees nothing else (created by the system administrator like every business user).
    EXPERT = "expert"


class Scope(StrEnum):
    """How the actor relates to the evaluation's organisation."""

    OWN_UNIT = "own_unit"  # staff of the unit that owns the project
    UNIT_DEPARTMENT = "unit_department"  # reviewer of the department the unit belongs to
    FINANCE = "finance"  # the finance office sees every unit
    ASSIGNED = "assigned"  # the re-checker a sampled evaluation is assigned to (抽查复核)
    NONE = "none"


STATE_LABELS: dict[State, str] = {
    State.DRAFT: "填报中",
    State.SELF_SCORED: "已自评（待审核）",
    State.DEPT_REVIEW: "主管部门审核中",
    State.FINANCE_CONFIRMATION: "财政确认中",
    State.CONFIRMED: "已确认（定级）",
}

ROLE_LABELS: dict[Role, str] = {
    Role.UNIT_STAFF: "填报人",
    Role.UNIT_HEAD: "单位负责人",
    Role.REVIEWER: "主管部门审核人",
    Role.FINANCE: "财政",
    Role.SYSADMIN: "系统管理员",
    Role.SECADMIN: "安全管理员",
    Role.AUDITOR: "审计管理员",
    Role.EXPERT: "复核专家",
}

UNIT_ROLES = frozenset({Role.UNIT_STAFF, Role.UNIT_HEAD})
ADMIN_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR})
BUSINESS_ROLES = frozenset(Role) - ADMIN_ROLES


@dataclass(frozen=True)
class Transition:
    event: Event
    source: State
    target: State
    roles: frozenset[Role]
    scope: Scope
    label: str
    reason_required: bool = False
    # What the operation must do on this move, by name; the operation maps names to code
    # (and refuses a name it does not know). Self scores are frozen by submit itself:
    # nothing but score_self and clear_self writes them.
    effects: tuple[str, ...] = ()
    danger: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        Event.SUBMIT,
        State.DRAFT,
        State.SELF_SCORED,
        UNIT_ROLES,
        Scope.OWN_UNIT,
        "提交自评",
        effects=("score_self", "pdf", "notify_reviewers"),
    ),
    Transition(
        Event.WITHDRAW,
        State.SELF_SCORED,
        State.DRAFT,
        UNIT_ROLES,
        Scope.OWN_UNIT,
        "撤回",
        effects=("clear_self",),
    ),
    Transition(
        Event.START_REVIEW,
        State.SELF_SCORED,
        State.DEPT_REVIEW,
        frozenset({Role.REVIEWER}),
        Scope.UNIT_DEPARTMENT,
        "开始审核",
        effects=("seed_dept",),
    ),
    Transition(
        Event.RETURN,
        State.DEPT_REVIEW,
        State.DRAFT,
        frozenset({Role.REVIEWER}),
        Scope.UNIT_DEPARTMENT,
        "退回单位",
        reason_required=True,
        effects=("clear_self", "clear_dept", "notify_unit"),
        danger=True,
    ),
    Transition(
        Event.APPROVE,
        State.DEPT_REVIEW,
        State.FINANCE_CONFIRMATION,
        frozenset({Role.REVIEWER}),
        Scope.UNIT_DEPARTMENT,
        "审核通过",
        effects=("score_dept", "pdf", "notify_finance"),
    ),
    Transition(
        Event.FINANCE_RETURN,
        State.FINANCE_CONFIRMATION,
        State.DEPT_REVIEW,
        frozenset({Role.FINANCE}),
        Scope.FINANCE,
        "退回主管部门",
        reason_required=True,
        effects=("notify_reviewers",),
        danger=True,
    ),
    Transition(
        Event.CONFIRM,
        State.FINANCE_CONFIRMATION,
        State.CONFIRMED,
        frozenset({Role.FINANCE}),
        Scope.FINANCE,
        "确认定级",
        effects=("score_final", "pdf", "notify_confirmed"),
    ),
    Transition(
        Event.REOPEN,
        State.CONFIRMED,
        State.FINANCE_CONFIRMATION,
        frozenset({Role.FINANCE}),
        Scope.FINANCE,
        "重新打开",
        reason_required=True,
        effects=("clear_final",),
        danger=True,
    ),
)

_BY_KEY: dict[tuple[State, Event], Transition] = {(t.source, t.event): t for t in TRANSITIONS}


class TransitionError(Exception):
    """A move the table does not allow; the message is shown to the user (Chinese)."""

    code = "illegal"


class IllegalTransition(TransitionError):
    code = "illegal"


class NotPermitted(TransitionError):
    code = "forbidden"


class ReasonRequired(TransitionError):
    code = "reason_required"


def transition_for(state: State | str, event: Event | str) -> Transition | None:
    try:
        return _BY_KEY.get((State(state), Event(event)))
    except ValueError:
        return None


def check(
    state: State | str,
    event: Event | str,
    role: Role | str,
    scopes: Iterable[Scope],
    reason: str | None = None,
) -> Transition:
    """Return the transition if this actor may fire this event now, else raise.

    `scopes` are the relations the actor has to the evaluation (computed by the caller from
    organisations); the table says which one the event needs.
    """
    transition = transition_for(state, event)
    if transition is None:
        raise IllegalTransition(f"当前状态（{_state_label(state)}）不能执行此操作")
    if Role(role) not in transition.roles or transition.scope not in set(scopes):
        raise NotPermitted("您无权执行此操作")
    if transition.reason_required and not (reason or "").strip():
        raise ReasonRequired(f"“{transition.label}”必须填写原因")
    return transition


def available(state: State | str, role: Role | str, scopes: Iterable[Scope]) -> list[Transition]:
    """The transitions this actor could fire from this state (reasons not yet checked)."""
    scope_set = set(scopes)
    st = State(state)
    r = Role(role)
    return [t for t in TRANSITIONS if t.source == st and r in t.roles and t.scope in scope_set]


def _state_label(state: State | str) -> str:
    try:
        return STATE_LABELS[State(state)]
    except ValueError:
        return str(state)


def mermaid() -> str:
    """The state diagram, drawn from the table (the README embeds this output)."""
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    for t in TRANSITIONS:
        who = "/".join(ROLE_LABELS[r] for r in sorted(t.roles))
        note = "，须填原因" if t.reason_required else ""
        lines.append(
            f"    {t.source.value} --> {t.target.value}: {t.event.value} {t.label}（{who}{note}）"
        )
    lines.append("    confirmed --> [*]")
    for s, label in STATE_LABELS.items():
        lines.append(f"    {s.value}: {s.value} {label}")
    return "\n".join(lines)


# --- a project's performance targets (绩效目标申报与审核) ----------------------------------------


class TargetState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"


class TargetEvent(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    # After approval a target changes only through an adjustment (调整) with its reason; the
    # approved version stays in force until the department approves the adjustment.
    ADJUST = "adjust"


TARGET_STATE_LABELS: dict[TargetState, str] = {
    TargetState.DRAFT: "填报中",
    TargetState.SUBMITTED: "已提交（待审核）",
    TargetState.APPROVED: "已批复",
    TargetState.RETURNED: "已退回（待修改）",
}


@dataclass(frozen=True)
class TargetTransition:
    event: TargetEvent
    source: TargetState
    target: TargetState
    roles: frozenset[Role]
    scope: Scope
    label: str
    reason_required: bool = False
    # What the operation does on this move, by name (as for evaluations).
    effects: tuple[str, ...] = ()
    danger: bool = False


TARGET_TRANSITIONS: tuple[TargetTransition, ...] = (
    TargetTransition(
        TargetEvent.SUBMIT,
        TargetState.DRAFT,
        TargetState.SUBMITTED,
        UNIT_ROLES,
        Scope.OWN_UNIT,
        "提交审核",
        effects=("check", "new_version", "notify_reviewers"),
    ),
    TargetTransition(
        TargetEvent.SUBMIT,
        TargetState.RETURNED,
        TargetState.SUBMITTED,
        UNIT_ROLES,
        Scope.OWN_UNIT,
        "重新提交",
        effects=("check", "new_version", "notify_reviewers"),
    ),
    TargetTransition(
        TargetEvent.ADJUST,
        TargetState.APPROVED,
        TargetState.SUBMITTED,
        UNIT_ROLES,
        Scope.OWN_UNIT,
        "申请调整",
        reason_required=True,
        effects=("check", "new_version", "notify_reviewers"),
    ),
    TargetTransition(
        TargetEvent.APPROVE,
        TargetState.SUBMITTED,
        TargetState.APPROVED,
        frozenset({Role.REVIEWER}),
        Scope.UNIT_DEPARTMENT,
        "审核通过",
        effects=("put_in_force", "notify_unit"),
    ),
    TargetTransition(
        TargetEvent.RETURN,
        TargetState.SUBMITTED,
        TargetState.RETURNED,
        frozenset({Role.REVIEWER}),
        Scope.UNIT_DEPARTMENT,
        "退回修改",
        reason_required=True,
        effects=("notify_unit",),
        danger=True,
    ),
)

_TARGET_BY_KEY: dict[tuple[TargetState, TargetEvent], TargetTransition] = {
    (t.source, t.event): t for t in TARGET_TRANSITIONS
}


def target_transition_for(
    state: TargetState | str, event: TargetEvent | str
) -> TargetTransition | None:
    try:
        return _TARGET_BY_KEY.get((TargetState(state), TargetEvent(event)))
    except ValueError:
        return None


def check_targets_event(
    state: TargetState | str,
    event: TargetEvent | str,
    role: Role | str,
    scopes: Iterable[Scope],
    reason: str | None = None,
) -> TargetTransition:
    """Return the targets transition if this actor may fire this event now, else raise."""
    transition = target_transition_for(state, event)
    if transition is None:
        raise IllegalTransition(f"绩效目标当前状态（{_target_state_label(state)}）不能执行此操作")
    if Role(role) not in transition.roles or transition.scope not in set(scopes):
        raise NotPermitted("您无权执行此操作")
    if transition.reason_required and not (reason or "").strip():
        raise ReasonRequired(f"“{transition.label}”必须填写原因")
    return transition


def available_targets(
    state: TargetState | str, role: Role | str, scopes: Iterable[Scope]
) -> list[TargetTransition]:
    scope_set = set(scopes)
    st = TargetState(state)
    r = Role(role)
    return [
        t for t in TARGET_TRANSITIONS if t.source == st and r in t.roles and t.scope in scope_set
    ]


def _target_state_label(state: TargetState | str) -> str:
    try:
        return TARGET_STATE_LABELS[TargetState(state)]
    except ValueError:
        return str(state)


def targets_mermaid() -> str:
    """The targets' state diagram, drawn from their table (the README embeds it)."""
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    for t in TARGET_TRANSITIONS:
        who = "/".join(ROLE_LABELS[r] for r in sorted(t.roles))
        note = "，须填原因" if t.reason_required else ""
        lines.append(
            f"    {t.source.value} --> {t.target.value}: {t.event.value} {t.label}（{who}{note}）"
        )
    for s, label in TARGET_STATE_LABELS.items():
        lines.append(f"    {s.value}: {s.value} {label}")
    return "\n".join(lines)


# --- a sampled evaluation's re-check (抽查复核) ---------------------------------------------


class RecheckState(StrEnum):
    ASSIGNED = "assigned"
    CHECKING = "checking"
    AWAITING_EVIDENCE = "awaiting_evidence"
    DONE = "done"


class RecheckEvent(StrEnum):
    START = "start"
    REQUEST_EVIDENCE = "request_evidence"
    ANSWER = "answer"
    COMPLETE = "complete"
    REOPEN = "reopen"


RECHECK_STATE_LABELS: dict[RecheckState, str] = {
    RecheckState.ASSIGNED: "待复核",
    RecheckState.CHECKING: "复核中",
    RecheckState.AWAITING_EVIDENCE: "待单位补充材料",
    RecheckState.DONE: "复核完成",
}

RECHECKERS = frozenset({Role.FINANCE, Role.EXPERT})


@dataclass(frozen=True)
class RecheckTransition:
    event: RecheckEvent
    source: RecheckState
    target: RecheckState
    roles: frozenset[Role]
    scope: Scope
    label: str
    reason_required: bool = False
    effects: tuple[str, ...] = ()
    danger: bool = False


RECHECK_TRANSITIONS: tuple[RecheckTransition, ...] = (
    RecheckTransition(
        RecheckEvent.START,
        RecheckState.ASSIGNED,
        RecheckState.CHECKING,
        RECHECKERS,
        Scope.ASSIGNED,
        "开始复核",
    ),
    RecheckTransition(
        RecheckEvent.REQUEST_EVIDENCE,
        RecheckState.CHECKING,
        RecheckState.AWAITING_EVIDENCE,
        RECHECKERS,
        Scope.ASSIGNED,
        "请单位补充材料",
        reason_required=True,
        effects=("open_request", "notify_unit"),
    ),
    RecheckTransition(
        RecheckEvent.ANSWER,
        RecheckState.AWAITING_EVIDENCE,
        RecheckState.CHECKING,
        UNIT_ROLES,
        Scope.OWN_UNIT,
        "提交补充说明",
        reason_required=True,
        effects=("close_request", "notify_rechecker"),
    ),
    RecheckTransition(
        RecheckEvent.COMPLETE,
        RecheckState.CHECKING,
        RecheckState.DONE,
        RECHECKERS,
        Scope.ASSIGNED,
        "完成复核",
        effects=("score_recheck", "notify_result"),
    ),
    RecheckTransition(
        RecheckEvent.REOPEN,
        RecheckState.DONE,
        RecheckState.CHECKING,
        frozenset({Role.FINANCE}),
        Scope.FINANCE,
        "重新复核",
        reason_required=True,
        effects=("clear_recheck",),
        danger=True,
    ),
)

_RECHECK_BY_KEY: dict[tuple[RecheckState, RecheckEvent], RecheckTransition] = {
    (t.source, t.event): t for t in RECHECK_TRANSITIONS
}


def recheck_transition_for(
    state: RecheckState | str, event: RecheckEvent | str
) -> RecheckTransition | None:
    try:
        return _RECHECK_BY_KEY.get((RecheckState(state), RecheckEvent(event)))
    except ValueError:
        return None


def check_recheck_event(
    state: RecheckState | str,
    event: RecheckEvent | str,
    role: Role | str,
    scopes: Iterable[Scope],
    reason: str | None = None,
) -> RecheckTransition:
    """Return the re-check transition if this actor may fire this event now, else raise."""
    transition = recheck_transition_for(state, event)
    if transition is None:
        raise IllegalTransition(f"复核当前状态（{_recheck_state_label(state)}）不能执行此操作")
    if Role(role) not in transition.roles or transition.scope not in set(scopes):
        raise NotPermitted("您无权执行此操作")
    if transition.reason_required and not (reason or "").strip():
        raise ReasonRequired(f"“{transition.label}”必须填写内容")
    return transition


def available_rechecks(
    state: RecheckState | str, role: Role | str, scopes: Iterable[Scope]
) -> list[RecheckTransition]:
    scope_set = set(scopes)
    st = RecheckState(state)
    r = Role(role)
    return [
        t for t in RECHECK_TRANSITIONS if t.source == st and r in t.roles and t.scope in scope_set
    ]


def _recheck_state_label(state: RecheckState | str) -> str:
    try:
        return RECHECK_STATE_LABELS[RecheckState(state)]
    except ValueError:
        return str(state)


def rechecks_mermaid() -> str:
    """The re-check's state diagram, drawn from its table (the README embeds it)."""
    lines = ["stateDiagram-v2", "    [*] --> assigned"]
    for t in RECHECK_TRANSITIONS:
        who = "/".join(ROLE_LABELS[r] for r in sorted(t.roles))
        note = "，须填写" if t.reason_required else ""
        lines.append(
            f"    {t.source.value} --> {t.target.value}: {t.event.value} {t.label}（{who}{note}）"
        )
    for s, label in RECHECK_STATE_LABELS.items():
        lines.append(f"    {s.value}: {s.value} {label}")
    return "\n".join(lines)
