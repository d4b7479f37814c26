"""Migration 0007 (the review trail): the new columns, and a form whose last logged step was
a return gets that reason back as returned_reason; downgrade and upgrade again round-trip."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, stamp, upgrade
from pagehelpers import ev_id

from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.machine import Event
from workflow.models import Evaluation, User

IN_REVIEW = "12345热线知识库建设"
AT_FINANCE = "政务服务事项标准化"


def test_0007_fills_the_returned_reason_from_the_log(app: Flask) -> None:
    returned, sent_back = ev_id(app, IN_REVIEW), ev_id(app, AT_FINANCE)
    with app.app_context():
        reviewer = db.session.scalar(sa.select(User).where(User.username == "reviewer"))
        finance = db.session.scalar(sa.select(User).where(User.username == "finance"))
        operations.fire(reviewer, returned, Event.RETURN, reason="请补充验收报告")
        operations.fire(finance, sent_back, Event.FINANCE_RETURN, reason="请核实满意度调查")
        db.session.remove()
        stamp()  # the test world is built from the models: it is at head
        downgrade(revision="0006")
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("evaluations")}
        assert not {"dept_opinion", "final_opinion", "returned_reason"} & columns
        upgrade()
        db.session.remove()
        reasons = dict(
            db.session.execute(sa.select(Evaluation.id, Evaluation.returned_reason)).all()
        )
    assert reasons[returned] == "请补充验收报告"
    assert reasons[sent_back] == "请核实满意度调查"
    assert {k for k, v in reasons.items() if v is not None} == {returned, sent_back}
