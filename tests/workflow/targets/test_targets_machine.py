"""The targets' state machine and policy: every (state, event, role, scope), table-driven."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from workflow import machine, policy
from workflow.machine import Role, Scope, TargetEvent, TargetState

U = {Role.UNIT_STAFF, Role.UNIT_HEAD}
R = {Role.REVIEWER}
# Written out by hand a second time: a move can't appear or vanish from the table unnoticed.
EXPECTED = {
    (TargetState.DRAFT, TargetEvent.SUBMIT): (TargetState.SUBMITTED, U, Scope.OWN_UNIT, False),
    (TargetState.RETURNED, TargetEvent.SUBMIT): (TargetState.SUBMITTED, U, Scope.OWN_UNIT, False),
    (TargetState.APPROVED, TargetEvent.ADJUST): (TargetState.SUBMITTED, U, Scope.OWN_UNIT, True),
    (TargetState.SUBMITTED, TargetEvent.APPROVE): (
        TargetState.APPROVED,
        R,
        Scope.UNIT_DEPARTMENT,
        False,
    ),
    (TargetState.SUBMITTED, TargetEvent.RETURN): (
        TargetState.RETURNED,
        R,
        Scope.UNIT_DEPARTMENT,
        True,
    ),
}


@pytest.mark.parametrize(
    ("state", "event", "role", "scope"),
    list(itertools.product(TargetState, TargetEvent, Role, Scope)),
)
def test_every_combination(
    state: TargetState, event: TargetEvent, role: Role, scope: Scope
) -> None:
    expected = EXPECTED.get((state, event))
    if expected is None:
        with pytest.raises(machine.IllegalTransition):
            machine.check_targets_event(state, event, role, {scope}, reason="原因")
        return
    target, roles, needed_scope, reason_required = expected
    if role not in roles or scope is not needed_scope:
        with pytest.raises(machine.NotPermitted):
            machine.check_targets_event(state, event, role, {scope}, reason="原因")
        return
    if reason_required:
        with pytest.raises(machine.ReasonRequired, match="必须填写原因"):
            machine.check_targets_event(state, event, role, {scope}, reason="  ")
    transition = machine.check_targets_event(state, event, role, {scope}, reason="原因")
    assert transition.target is target


def test_table_has_exactly_the_expected_moves() -> None:
    assert {(t.source, t.event) for t in machine.TARGET_TRANSITIONS} == set(EXPECTED)


def test_approved_is_locked_but_for_an_adjustment() -> None:
    moves = [t for t in machine.TARGET_TRANSITIONS if t.source is TargetState.APPROVED]
    assert [t.event for t in moves] == [TargetEvent.ADJUST]
    assert all(t.reason_required for t in moves)


def test_diagram_draws_every_targets_transition() -> None:
    diagram = machine.targets_mermaid()
    for t in machine.TARGET_TRANSITIONS:
        assert f"{t.source.value} --> {t.target.value}: {t.event.value} {t.label}" in diagram


# --- the policy ------------------------------------------------------------------------------


@dataclass
class FakeUser:
    role: str
    org_id: int
    is_active: bool = True


@dataclass
class FakeTargets:
    state: str
    unit_id: int = 10
    department_id: int = 1


UNIT = FakeUser("unit_staff", 10)
OTHER_UNIT = FakeUser("unit_staff", 11)
REVIEWER = FakeUser("reviewer", 1)
OTHER_REVIEWER = FakeUser("reviewer", 2)
FINANCE = FakeUser("finance", 99)
ADMIN = FakeUser("sysadmin", 99)

# (user, action, state) -> allowed
POLICY = [
    (UNIT, policy.VIEW, "draft", True),
    (OTHER_UNIT, policy.VIEW, "draft", False),
    (REVIEWER, policy.VIEW, "draft", True),
    (OTHER_REVIEWER, policy.VIEW, "submitted", False),
    (FINANCE, policy.VIEW, "approved", True),
    (ADMIN, policy.VIEW, "approved", True),
    (UNIT, policy.TARGETS_EDIT, "draft", True),
    (UNIT, policy.TARGETS_EDIT, "returned", True),
    (UNIT, policy.TARGETS_EDIT, "submitted", False),
    (UNIT, policy.TARGETS_EDIT, "approved", False),
    (UNIT, policy.TARGETS_ADJUST_EDIT, "approved", True),
    (UNIT, policy.TARGETS_ADJUST_EDIT, "draft", False),
    (OTHER_UNIT, policy.TARGETS_EDIT, "draft", False),
    (REVIEWER, policy.TARGETS_EDIT, "draft", False),
    (UNIT, "submit", "draft", True),
    (UNIT, "approve", "submitted", False),
    (REVIEWER, "approve", "submitted", True),
    (REVIEWER, "return", "submitted", True),
    (OTHER_REVIEWER, "approve", "submitted", False),
    (FINANCE, "approve", "submitted", False),
    (ADMIN, "approve", "submitted", False),
    (UNIT, "adjust", "approved", True),
    (UNIT, "nonsense", "draft", False),
    (FakeUser("unit_staff", 10, is_active=False), policy.VIEW, "draft", False),
]


@pytest.mark.parametrize(("user", "action", "state", "allowed"), POLICY)
def test_targets_policy(user: FakeUser, action: str, state: str, allowed: bool) -> None:
    assert policy.can_targets(user, action, FakeTargets(state)) is allowed  # type: ignore[arg-type]


def test_import_and_library_rights() -> None:
    assert [policy.can_import_targets(u) for u in (UNIT, REVIEWER, FINANCE, ADMIN)] == [  # type: ignore[arg-type]
        False,
        False,
        True,
        True,
    ]
    assert [policy.can_manage_library(u) for u in (UNIT, REVIEWER, FINANCE, ADMIN)] == [  # type: ignore[arg-type]
        False,
        False,
        False,
        True,
    ]
