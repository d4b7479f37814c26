"""The workflow operations end to end on a real database (the demo world)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.workflow.helpers import evaluation_named, in_state, seed_evaluation, user
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.models import AuditLog, Evaluation, OutboxMessage


def audit_rows(evaluation_id: int) -> list[AuditLog]:
    return list(
        db.session.scalars(
            select(AuditLog).where(AuditLog.evaluation_id == evaluation_id).order_by(AuditLog.id)
        )
    )


def test_submit_scores_the_seed_form_and_freezes_self_scores(ctx: Flask) -> None:
    ev = seed_evaluation()
    assert ev.state == "draft"
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    result = operations.fire(user("unit_a"), ev.id, "submit", expected_version=ev.version)
    ev = db.session.get(Evaluation, result.evaluation.id)
    assert ev.state == "self_scored"
    assert ev.self_total == Decimal("98.50")
    assert ev.self_grade == "优"
    assert ev.submitted_by.username == "unit_a"
    scores = {row.code: row.self_score for row in ev.rows}
    assert sum(s for s in scores.values() if s is not None) == Decimal("98.50")
    rows = audit_rows(ev.id)
    assert [(r.event, r.from_state, r.to_state) for r in rows] == [
        ("submit", "draft", "self_scored")
    ]
    assert rows[0].scores["self_total"] == "98.50"
    assert rows[0].actor_name and rows[0].role == "unit_staff"
    kinds = sorted(
        m.kind for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > 0))
    )
    after = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert after - before == 2 and "pdf" in kinds and "notify" in kinds


def test_other_units_and_departments_cannot_see_it(ctx: Flask) -> None:
    ev = seed_evaluation()
    for outsider in ("unit_b", "unit_c", "reviewer_2"):
        with pytest.raises(operations.NotFound):
            operations.fire(user(outsider), ev.id, "submit")
    # The reviewer of its department sees it but may not submit for the unit.
    with pytest.raises(operations.Forbidden):
        operations.fire(user("reviewer"), ev.id, "submit")
    assert db.session.get(Evaluation, ev.id).state == "draft"
    assert audit_rows(ev.id) == []


def test_stale_version_is_a_conflict(ctx: Flask) -> None:
    ev = seed_evaluation()
    old = ev.version
    operations.save_draft(user("unit_a"), ev.id, {}, {"phone": "025-1"}, expected_version=old)
    with pytest.raises(operations.Conflict) as info:
        operations.fire(user("unit_a"), ev.id, "submit", expected_version=old)
    assert info.value.status == 409
    assert info.value.message == "已被他人处理，请刷新后重试"


def test_blocking_flag_stops_submit(ctx: Flask) -> None:
    ev = seed_evaluation()
    first = ev.rows[0].code
    operations.save_draft(user("unit_a"), ev.id, {first: {"actual": ""}}, None)
    with pytest.raises(operations.ValidationFailed) as info:
        operations.fire(user("unit_a"), ev.id, "submit")
    assert info.value.details
    ev = db.session.get(Evaluation, ev.id)
    assert ev.state == "draft" and ev.self_total is None


def test_review_change_needs_reason_and_never_touches_self_scores(ctx: Flask) -> None:
    ev = evaluation_named("12345热线知识库建设")
    assert ev.state == "dept_review"
    self_before = {r.code: r.self_score for r in ev.rows}
    code = next(r.code for r in ev.rows if r.self_score and r.self_score > 1)
    new = self_before[code] - Decimal("1")
    reviewer = user("reviewer")
    with pytest.raises(operations.ValidationFailed):
        operations.fire(reviewer, ev.id, "approve", scores={code: operations.ScoreChange(new, "")})
    too_high = next(r for r in ev.rows if r.code == code).weight + 1
    with pytest.raises(operations.ValidationFailed):
        operations.fire(
            reviewer, ev.id, "approve", scores={code: operations.ScoreChange(too_high, "多给")}
        )
    operations.fire(
        reviewer, ev.id, "approve", scores={code: operations.ScoreChange(new, "佐证材料不全")}
    )
    ev = db.session.get(Evaluation, ev.id)
    assert ev.state == "finance_confirmation"
    assert {r.code: r.self_score for r in ev.rows} == self_before
    row = next(r for r in ev.rows if r.code == code)
    assert row.dept_score == new and row.dept_reason == "佐证材料不全"
    assert ev.dept_total == ev.self_total - Decimal("1")
    change = audit_rows(ev.id)[-1].scores["changes"][0]
    assert change["code"] == code and change["reason"] == "佐证材料不全"


def test_return_and_reopen_need_reasons(ctx: Flask) -> None:
    ev = evaluation_named("12345热线知识库建设")
    with pytest.raises(operations.OperationError) as info:
        operations.fire(user("reviewer"), ev.id, "return", reason=" ")
    assert "原因" in info.value.message
    operations.fire(user("reviewer"), ev.id, "return", reason="请补充佐证材料")
    ev = db.session.get(Evaluation, ev.id)
    assert ev.state == "draft" and ev.self_total is None and ev.dept_total is None
    confirmed = in_state("confirmed")[0]
    with pytest.raises(operations.OperationError):
        operations.fire(user("finance"), confirmed.id, "reopen")
    operations.fire(user("finance"), confirmed.id, "reopen", reason="抽查复核发现问题")
    assert db.session.get(Evaluation, confirmed.id).state == "finance_confirmation"


def test_finance_confirms_with_final_scores(ctx: Flask) -> None:
    ev = in_state("finance_confirmation")[0]
    code = next(r.code for r in ev.rows if r.dept_score and r.dept_score >= 2)
    dept = {r.code: r.dept_score for r in ev.rows}
    operations.fire(
        user("finance"),
        ev.id,
        "confirm",
        scores={code: operations.ScoreChange(dept[code] - Decimal("0.5"), "抽查复核扣分")},
    )
    ev = db.session.get(Evaluation, ev.id)
    assert ev.state == "confirmed"
    assert {r.code: r.dept_score for r in ev.rows} == dept
    assert ev.final_total == ev.dept_total - Decimal("0.5")
    assert ev.final_grade in {"优", "良", "中", "差"}
    assert ev.confirmer.username == "finance"


def test_admin_sees_but_fires_nothing(ctx: Flask) -> None:
    ev = in_state("self_scored")[0]
    with pytest.raises(operations.Forbidden):
        operations.fire(user("sysadmin"), ev.id, "start_review")


def test_audit_rows_match_events_in_demo(ctx: Flask) -> None:
    # The demo world was built through fire(): one audit row per successful event.
    for ev in db.session.scalars(select(Evaluation)):
        # The demo's 抽查复核 writes its own rows (no evaluation state change) beside them.
        rows = [r for r in audit_rows(ev.id) if not r.event.startswith("recheck_")]
        states = ["draft"] + [r.to_state for r in rows]
        assert states[-1] == ev.state
        for prev, row in zip(states, rows, strict=False):
            assert row.from_state == prev


def test_every_effect_in_the_table_is_implemented() -> None:
    import inspect

    from workflow import machine

    source = inspect.getsource(operations._apply_effects)
    for transition in machine.TRANSITIONS:
        for effect in transition.effects:
            assert f'"{effect}"' in source or effect in operations._SIDE_EFFECTS, effect
