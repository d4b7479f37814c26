"""The evaluation state machine: states, events and who may fire them, as data.

This module is the one place that decides whether a state change is legal. It is pure
(no Flask, SQLAlchemy or Celery) so that the table can be tested exhaustively, drive the
buttons a page shows, and draw the state diagram in the README.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar


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


S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Move(Generic[S, E]):
    """One row of a machine's table: this event moves from source to target, for these roles
    in this scope. The evaluation's, the targets' and the re-check's tables are all rows of
    this shape."""

    event: E
    source: S
    target: S
    roles: frozenset[Role]
    scope: Scope
    label: str
    reason_required: bool = False
    # What the operation must do on this move, by name; the operation maps names to code
    # (and refuses a name it does not know). Self scores are frozen by submit itself:
    # nothing but score_self and clear_self writes them.
    effects: tuple[str, ...] = ()
    danger: bool = False


Transition = Move[State, Event]


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


class TransitionError(Exception):
    """A move the table does not allow; the message is shown to the user (Chinese)."""

    code = "illegal"


class IllegalTransition(TransitionError):
    code = "illegal"


class NotPermitted(TransitionError):
    code = "forbidden"


class ReasonRequired(TransitionError):
    code = "reason_required"


class Machine(Generic[S, E]):
    """A table of moves and the questions asked of it: which move an event is, whether this
    actor may fire it now, which moves an actor could fire, and the state diagram."""

    def __init__(
        self,
        states: type[S],
        events: type[E],
        moves: tuple[Move[S, E], ...],
        labels: Mapping[S, str],
        *,
        initial: S,
        final: S | None = None,
        what: str = "",
        reason_word: str = "原因",
        diagram_note: str = "，须填原因",
    ) -> None:
        self.states, self.events, self.moves, self.labels = states, events, moves, labels
        self.initial, self.final = initial, final
        self.what, self.reason_word, self.diagram_note = what, reason_word, diagram_note
        self._by_key = {(m.source, m.event): m for m in moves}

    def transition_for(self, state: S | str, event: E | str) -> Move[S, E] | None:
        try:
            return self._by_key.get((self.states(state), self.events(event)))
        except ValueError:
            return None

    def check(
        self,
        state: S | str,
        event: E | str,
        role: Role | str,
        scopes: Iterable[Scope],
        reason: str | None = None,
    ) -> Move[S, E]:
        """Return the move if this actor may fire this event now, else raise.

        `scopes` are the relations the actor has to the object (computed by the caller from
        organisations); the table says which one the event needs.
        """
        move = self.transition_for(state, event)
        if move is None:
            raise IllegalTransition(
                f"{self.what}当前状态（{self.state_label(state)}）不能执行此操作"
            )
        if Role(role) not in move.roles or move.scope not in set(scopes):
            raise NotPermitted("您无权执行此操作")
        if move.reason_required and not (reason or "").strip():
            raise ReasonRequired(f"“{move.label}”必须填写{self.reason_word}")
        return move

    def available(
        self, state: S | str, role: Role | str, scopes: Iterable[Scope]
    ) -> list[Move[S, E]]:
        """The moves this actor could fire from this state (reasons not yet checked)."""
        scope_set = set(scopes)
        st = self.states(state)
        r = Role(role)
        return [m for m in self.moves if m.source == st and r in m.roles and m.scope in scope_set]

    def state_label(self, state: S | str) -> str:
        try:
            return self.labels[self.states(state)]
        except (ValueError, KeyError):
            return str(state)

    def mermaid(self) -> str:
        """The state diagram, drawn from the table (the README embeds this output)."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial.value}"]
        for m in self.moves:
            who = "/".join(ROLE_LABELS[r] for r in sorted(m.roles))
            note = self.diagram_note if m.reason_required else ""
            lines.append(
                f"    {m.source.value} --> {m.target.value}: {m.event.value} {m.label}（{who}{note}）"
            )
        if self.final is not None:
            lines.append(f"    {self.final.value} --> [*]")
        for s, label in self.labels.items():
            lines.append(f"    {s.value}: {s.value} {label}")
        return "\n".join(lines)


EVALUATIONS: Machine[State, Event] = Machine(
    State, Event, TRANSITIONS, STATE_LABELS, initial=State.DRAFT, final=State.CONFIRMED
)
transition_for = EVALUATIONS.transition_for
check = EVALUATIONS.check
available = EVALUATIONS.available
mermaid = EVALUATIONS.mermaid


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


TargetTransition = Move[TargetState, TargetEvent]

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

TARGETS: Machine[TargetState, TargetEvent] = Machine(
    TargetState,
    TargetEvent,
    TARGET_TRANSITIONS,
    TARGET_STATE_LABELS,
    initial=TargetState.DRAFT,
    what="绩效目标",
)
target_transition_for = TARGETS.transition_for
check_targets_event = TARGETS.check
available_targets = TARGETS.available
targets_mermaid = TARGETS.mermaid


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


RecheckTransition = Move[RecheckState, RecheckEvent]

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

RECHECKS: Machine[RecheckState, RecheckEvent] = Machine(
    RecheckState,
    RecheckEvent,
    RECHECK_TRANSITIONS,
    RECHECK_STATE_LABELS,
    initial=RecheckState.ASSIGNED,
    what="复核",
    reason_word="内容",
    diagram_note="，须填写",
)
recheck_transition_for = RECHECKS.transition_for
check_recheck_event = RECHECKS.check
available_rechecks = RECHECKS.available
rechecks_mermaid = RECHECKS.mermaid
