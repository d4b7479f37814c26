"""The re-check's state machine, every state × event × role × scope against the table."""

from __future__ import annotations

import itertools

import pytest

from workflow import machine
from workflow.machine import RecheckEvent, RecheckState, Role, Scope

EXPECTED = {
    # (state, event): (target, roles, scope, reason required)
    (RecheckState.ASSIGNED, RecheckEvent.START): (
        RecheckState.CHECKING,
        {Role.FINANCE, Role.EXPERT},
        Scope.ASSIGNED,
        False,
    ),
    (RecheckState.CHECKING, RecheckEvent.REQUEST_EVIDENCE): (
        RecheckState.AWAITING_EVIDENCE,
        {Role.FINANCE, Role.EXPERT},
        Scope.ASSIGNED,
        True,
    ),
    (RecheckState.AWAITING_EVIDENCE, RecheckEvent.ANSWER): (
        RecheckState.CHECKING,
        {Role.UNIT_STAFF, Role.UNIT_HEAD},
        Scope.OWN_UNIT,
        True,
    ),
    (RecheckState.CHECKING, RecheckEvent.COMPLETE): (
        RecheckState.DONE,
        {Role.FINANCE, Role.EXPERT},
        Scope.ASSIGNED,
        False,
    ),
    (RecheckState.DONE, RecheckEvent.REOPEN): (
        RecheckState.CHECKING,
        {Role.FINANCE},
        Scope.FINANCE,
        True,
    ),
}
ALL = list(itertools.product(RecheckState, RecheckEvent, Role, Scope))


@pytest.mark.parametrize(("state", "event", "role", "scope"), ALL)
def test_table(state, event, role, scope) -> None:
    expected = EXPECTED.get((state, event))
    if expected is None:
        with pytest.raises(machine.IllegalTransition, match="复核当前状态"):
            machine.check_recheck_event(state, event, role, {scope}, "理由")
        return
    target, roles, needed, reason_required = expected
    if role not in roles or scope is not needed:
        with pytest.raises(machine.NotPermitted):
            machine.check_recheck_event(state, event, role, {scope}, "理由")
        return
    t = machine.check_recheck_event(state, event, role, {scope}, "理由")
    assert t.target is target
    if reason_required:
        with pytest.raises(machine.ReasonRequired):
            machine.check_recheck_event(state, event, role, {scope}, "  ")
    else:
        assert machine.check_recheck_event(state, event, role, {scope}, None) is t


def test_the_table_is_exactly_the_expected_one() -> None:
    assert {(t.source, t.event) for t in machine.RECHECK_TRANSITIONS} == set(EXPECTED)


def test_available_matches_check() -> None:
    for state, role, scope in itertools.product(RecheckState, Role, Scope):
        offered = {t.event for t in machine.available_rechecks(state, role, {scope})}
        allowed = set()
        for event in RecheckEvent:
            try:
                machine.check_recheck_event(state, event, role, {scope}, "x")
                allowed.add(event)
            except machine.TransitionError:
                pass
        assert offered == allowed, (state, role, scope)


def test_administrators_and_experts_scopes() -> None:
    # No administrator may ever fire a re-check event; an expert only on what is assigned.
    for t in machine.RECHECK_TRANSITIONS:
        assert not (t.roles & machine.ADMIN_ROLES)
        if Role.EXPERT in t.roles:
            assert t.scope is Scope.ASSIGNED


def test_diagram_lists_every_transition() -> None:
    diagram = machine.rechecks_mermaid()
    for t in machine.RECHECK_TRANSITIONS:
        assert f"{t.source.value} --> {t.target.value}: {t.event.value}" in diagram


def test_readme_diagram_is_the_table() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- rechecks-diagram:start -->\n```mermaid\n(.*?)\n```\n<!-- rechecks-diagram:end -->",
        readme,
        re.S,
    )
    assert block is not None and block.group(1) == machine.rechecks_mermaid()
