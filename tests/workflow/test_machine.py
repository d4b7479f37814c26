"""Every (state, event, role, scope) combination against the transition table."""

from __future__ import annotations

import itertools

import pytest

from workflow import machine
from workflow.machine import Event, Role, Scope, State

# The table, written out by hand a second time: a change to machine.TRANSITIONS that is not
# also made here fails the test, so a move can't appear or vanish by accident.
EXPECTED = {
    (State.DRAFT, Event.SUBMIT): (
        State.SELF_SCORED,
        {Role.UNIT_STAFF, Role.UNIT_HEAD},
        Scope.OWN_UNIT,
        False,
    ),
    (State.SELF_SCORED, Event.WITHDRAW): (
        State.DRAFT,
        {Role.UNIT_STAFF, Role.UNIT_HEAD},
        Scope.OWN_UNIT,
        False,
    ),
    (State.SELF_SCORED, Event.START_REVIEW): (
        State.DEPT_REVIEW,
        {Role.REVIEWER},
        Scope.UNIT_DEPARTMENT,
        False,
    ),
    (State.DEPT_REVIEW, Event.RETURN): (State.DRAFT, {Role.REVIEWER}, Scope.UNIT_DEPARTMENT, True),
    (State.DEPT_REVIEW, Event.APPROVE): (
        State.FINANCE_CONFIRMATION,
        {Role.REVIEWER},
        Scope.UNIT_DEPARTMENT,
        False,
    ),
    (State.FINANCE_CONFIRMATION, Event.FINANCE_RETURN): (
        State.DEPT_REVIEW,
        {Role.FINANCE},
        Scope.FINANCE,
        True,
    ),
    (State.FINANCE_CONFIRMATION, Event.CONFIRM): (
        State.CONFIRMED,
        {Role.FINANCE},
        Scope.FINANCE,
        False,
    ),
    (State.CONFIRMED, Event.REOPEN): (
        State.FINANCE_CONFIRMATION,
        {Role.FINANCE},
        Scope.FINANCE,
        True,
    ),
}

COMBOS = list(itertools.product(State, Event, Role, Scope))


@pytest.mark.parametrize(("state", "event", "role", "scope"), COMBOS)
def test_every_combination(state: State, event: Event, role: Role, scope: Scope) -> None:
    expected = EXPECTED.get((state, event))
    reason = "理由"
    if expected is None:
        with pytest.raises(machine.IllegalTransition):
            machine.check(state, event, role, {scope}, reason)
        return
    target, roles, needed_scope, reason_required = expected
    if role in roles and scope == needed_scope:
        t = machine.check(state, event, role, {scope}, reason)
        assert t.target == target
        if reason_required:
            with pytest.raises(machine.ReasonRequired):
                machine.check(state, event, role, {scope}, "  ")
        else:
            assert machine.check(state, event, role, {scope}, None).target == target
    else:
        with pytest.raises(machine.NotPermitted):
            machine.check(state, event, role, {scope}, reason)


def test_table_matches_expected_exactly() -> None:
    actual = {
        (t.source, t.event): (t.target, set(t.roles), t.scope, t.reason_required)
        for t in machine.TRANSITIONS
    }
    assert actual == EXPECTED


def test_admin_fires_nothing() -> None:
    for t in machine.TRANSITIONS:
        assert not (machine.ADMIN_ROLES & t.roles)


@pytest.mark.parametrize("state", list(State))
def test_available_matches_check(state: State) -> None:
    for role, scope in itertools.product(Role, Scope):
        offered = {t.event for t in machine.available(state, role, {scope})}
        allowed = set()
        for event in Event:
            try:
                machine.check(state, event, role, {scope}, "理由")
                allowed.add(event)
            except machine.TransitionError:
                pass
        assert offered == allowed


def test_unknown_values_are_illegal_not_crashes() -> None:
    with pytest.raises(machine.IllegalTransition):
        machine.check("nowhere", "submit", Role.UNIT_STAFF, {Scope.OWN_UNIT})
    assert machine.transition_for("draft", "explode") is None


def test_mermaid_draws_every_transition() -> None:
    diagram = machine.mermaid()
    for t in machine.TRANSITIONS:
        assert f"{t.source.value} --> {t.target.value}: {t.event.value}" in diagram
