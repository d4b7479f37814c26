"""The one policy: may this user do this to this evaluation? Every route asks here.

Organisation scope is computed from the user's organisation and the evaluation's unit and
department; the state machine's table says which scope and role each event needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workflow import machine
from workflow.machine import Event, Role, Scope, State

if TYPE_CHECKING:  # the policy reads attributes only: it stays free of the ORM
    from workflow.models import Actor, Evaluation

# Actions that are not state changes.
VIEW = "view"
EDIT = "edit"  # save the draft, upload evidence
# 代为上传: the department (for its units) or finance (for all) saves a filled 自评表 workbook
# into a unit's draft. Only while the unit itself could save it (a draft, or a form returned
# to the unit); the save is audited and the unit told (workflow/workbooks/operations.py).
UPLOAD_ON_BEHALF = "upload_on_behalf"
REVIEW_EDIT = "review_edit"  # enter department scores
FINANCE_EDIT = "finance_edit"  # enter final scores


def scopes_for(user: Actor, evaluation: Evaluation) -> set[Scope]:
    if not user.is_active:
        return set()
    role = Role(user.role)
    scopes: set[Scope] = set()
    if role in machine.UNIT_ROLES and evaluation.unit_id == user.org_id:
        scopes.add(Scope.OWN_UNIT)
    if role is Role.REVIEWER and evaluation.department_id == user.org_id:
        scopes.add(Scope.UNIT_DEPARTMENT)
    if role is Role.FINANCE:
        scopes.add(Scope.FINANCE)
    return scopes


def can_view(user: Actor, evaluation: Evaluation) -> bool:
    if not user.is_active:
        return False
    # The system administrator oversees every evaluation read-only (import, reminders); the
    # security and audit administrators see no business data at all.
    return Role(user.role) is Role.SYSADMIN or bool(scopes_for(user, evaluation))


# The state each editing action needs, and the scopes that may do it in that state.
_EDIT_NEEDS: dict[str, tuple[State, frozenset[Scope]]] = {
    EDIT: (State.DRAFT, frozenset({Scope.OWN_UNIT})),
    UPLOAD_ON_BEHALF: (State.DRAFT, frozenset({Scope.UNIT_DEPARTMENT, Scope.FINANCE})),
    REVIEW_EDIT: (State.DEPT_REVIEW, frozenset({Scope.UNIT_DEPARTMENT})),
    FINANCE_EDIT: (State.FINANCE_CONFIRMATION, frozenset({Scope.FINANCE})),
}


def can(user: Actor, action: str, evaluation: Evaluation) -> bool:
    """The single decision for (user, action, evaluation)."""
    if not can_view(user, evaluation):
        return False
    if action != VIEW and Role(user.role) in machine.ADMIN_ROLES:
        return False  # 三员分立: no administrator acts in a business role
    if action == VIEW:
        return True
    scopes = scopes_for(user, evaluation)
    state = State(evaluation.state)
    if action in _EDIT_NEEDS:
        needed_state, needed_scopes = _EDIT_NEEDS[action]
        return state is needed_state and bool(needed_scopes & scopes)
    try:
        event = Event(action)
    except ValueError:
        return False
    return any(t.event is event for t in machine.available(state, user.role, scopes))


def could_edit_in_its_state(user: Actor, action: str, evaluation: Evaluation) -> bool:
    """Whether the user would hold this editing right if the evaluation were in the state
    it needs: the difference between "someone moved it on" (409) and "never yours" (403)."""
    needs = _EDIT_NEEDS.get(action)
    return needs is not None and bool(needs[1] & scopes_for(user, evaluation))


def may_upload_on_behalf(user: Any) -> bool:
    """Whether the multi-file upload for units' drafts is this user's page at all: the
    department's reviewers and finance. Each file is then decided by `can` on its own."""
    return is_role(user, Role.REVIEWER, Role.FINANCE)


def available_events(user: Actor, evaluation: Evaluation) -> list[machine.Transition]:
    """The buttons a page offers: the same table that decides the moves."""
    if not can_view(user, evaluation):
        return []
    return machine.available(evaluation.state, user.role, scopes_for(user, evaluation))


def visible_scope(user: Actor) -> tuple[str, int | None]:
    """Which evaluations this user may see, as (column, value): ("department_id", org),
    ("unit_id", org), ("all", None) or ("none", None). Lists build their SQL from this."""
    if not user.is_active:
        return "none", None
    scope = role_scope(Role(user.role))
    return scope, user.org_id if scope in ("department_id", "unit_id") else None


def role_scope(role: Role) -> str:
    """The column of visible_scope for an active user of this role: "department_id",
    "unit_id", "all" or "none"."""
    if role in (Role.SYSADMIN, Role.FINANCE):
        return "all"
    if role is Role.REVIEWER:
        return "department_id"
    if role in machine.UNIT_ROLES:
        return "unit_id"
    return "none"


def is_admin(user: Any) -> bool:
    """Any of the three administrators."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and Role(user.role) in machine.ADMIN_ROLES
    )


def is_role(user: Any, *roles: Role) -> bool:
    return bool(
        getattr(user, "is_authenticated", False) and user.is_active and Role(user.role) in roles
    )


# --- a project's targets (绩效目标) ------------------------------------------------------------

if TYPE_CHECKING:
    from workflow.models import TargetSet

TARGETS_EDIT = "targets_edit"  # save the working copy of draft or returned targets
TARGETS_ADJUST_EDIT = "targets_adjust_edit"  # prepare an adjustment of approved targets
TARGETS_IMPORT = "targets_import"  # import targets as approved (finance, admin)

_TARGET_EDIT_NEEDS: dict[str, tuple[frozenset[machine.TargetState], Scope]] = {
    TARGETS_EDIT: (
        frozenset({machine.TargetState.DRAFT, machine.TargetState.RETURNED}),
        Scope.OWN_UNIT,
    ),
    TARGETS_ADJUST_EDIT: (frozenset({machine.TargetState.APPROVED}), Scope.OWN_UNIT),
}


def target_scopes_for(user: Actor, targets: TargetSet) -> set[Scope]:
    """The same organisation scopes as an evaluation's: targets carry unit and department."""
    return scopes_for(user, targets)  # type: ignore[arg-type]


def can_view_targets(user: Actor, targets: TargetSet) -> bool:
    if not user.is_active:
        return False
    return Role(user.role) is Role.SYSADMIN or bool(target_scopes_for(user, targets))


def can_targets(user: Actor, action: str, targets: TargetSet) -> bool:
    """The single decision for (user, action, a project's targets)."""
    if not can_view_targets(user, targets):
        return False
    if action == VIEW:
        return True
    scopes = target_scopes_for(user, targets)
    state = machine.TargetState(targets.state)
    if action in _TARGET_EDIT_NEEDS:
        states, needed_scope = _TARGET_EDIT_NEEDS[action]
        return state in states and needed_scope in scopes
    try:
        event = machine.TargetEvent(action)
    except ValueError:
        return False
    return any(t.event is event for t in machine.available_targets(state, user.role, scopes))


def available_target_events(user: Actor, targets: TargetSet) -> list[machine.TargetTransition]:
    if not can_view_targets(user, targets):
        return []
    return machine.available_targets(targets.state, user.role, target_scopes_for(user, targets))


def can_import_targets(user: Actor) -> bool:
    """Finance and administrators import targets as approved (from the budget system)."""
    return bool(user.is_active and Role(user.role) in (Role.FINANCE, Role.SYSADMIN))


def can_bulk_import(user: Actor) -> bool:
    """Finance and the system administrator import published forms in bulk and read the
    reports (the same people who import targets as approved)."""
    return can_import_targets(user)


def can_manage_library(user: Actor) -> bool:
    return bool(user.is_active and Role(user.role) is Role.SYSADMIN)


# --- 抽查复核 (re-checks of sampled evaluations) ----------------------------------------------

if TYPE_CHECKING:
    from workflow.models import RecheckItem


def can_manage_rechecks(user: Actor) -> bool:
    """Finance creates batches, assigns re-checkers, reads reports, applies the results."""
    return bool(user.is_active and Role(user.role) is Role.FINANCE)


def can_recheck_at_all(user: Actor) -> bool:
    """Whoever may be assigned a re-check: finance officers and 复核专家."""
    return bool(user.is_active and Role(user.role) in machine.RECHECKERS)


def recheck_scopes_for(user: Actor, item: RecheckItem) -> set[Scope]:
    """ASSIGNED for the item's re-checker; the evaluation's own scopes otherwise (the unit
    answers evidence requests; finance oversees every item)."""
    if not user.is_active:
        return set()
    scopes: set[Scope] = set()
    if item.rechecker_id is not None and item.rechecker_id == user.id:
        scopes.add(Scope.ASSIGNED)
    role = Role(user.role)
    if role in machine.UNIT_ROLES and item.unit_id == user.org_id:
        scopes.add(Scope.OWN_UNIT)
    if role is Role.FINANCE:
        scopes.add(Scope.FINANCE)
    return scopes


def can_view_recheck(user: Actor, item: RecheckItem) -> bool:
    """The re-check page: finance and the assigned re-checker. The unit sees its evidence
    requests on its evaluation page, not the re-check itself."""
    scopes = recheck_scopes_for(user, item)
    return Scope.ASSIGNED in scopes or Scope.FINANCE in scopes


def can_see_recheck_answers(user: Actor, item: RecheckItem) -> bool:
    """The files a unit attached to its answers: the item's re-checker, finance and the unit
    itself; not the department, nor another re-checker."""
    scopes = recheck_scopes_for(user, item)
    return bool(scopes & {Scope.ASSIGNED, Scope.FINANCE, Scope.OWN_UNIT})


def can_recheck(user: Actor, action: str, item: RecheckItem) -> bool:
    """The single decision for (user, event or "score", re-check item)."""
    scopes = recheck_scopes_for(user, item)
    state = machine.RecheckState(item.state)
    if action == RECHECK_SCORE:
        return state is machine.RecheckState.CHECKING and Scope.ASSIGNED in scopes
    try:
        event = machine.RecheckEvent(action)
    except ValueError:
        return False
    return any(t.event is event for t in machine.available_rechecks(state, user.role, scopes))


RECHECK_SCORE = "recheck_score"  # enter 复核 scores (the re-checker, while checking)


def available_recheck_events(user: Actor, item: RecheckItem) -> list[machine.RecheckTransition]:
    return machine.available_rechecks(item.state, user.role, recheck_scopes_for(user, item))


def rechecker_conflict(
    role: str, org_id: int, org_parent_id: int | None, unit_id: int, department_id: int
) -> str | None:
    """Why this account may not re-check an evaluation of this unit and department, or None.
    An expert who belongs to the evaluated unit or to its department (or to any unit of that
    department) is refused: nobody re-checks their own house."""
    r = Role(role)
    if r not in machine.RECHECKERS:
        return "只能指派财政人员或复核专家"
    if r is Role.EXPERT and (org_id in (unit_id, department_id) or org_parent_id == department_id):
        return "复核专家属于被评价单位或其主管部门，须回避"
    return None
