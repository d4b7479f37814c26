"""Small helpers shared by the workflow tests."""

from __future__ import annotations

from sqlalchemy import select

from workflow.core.extensions import db
from workflow.models import Evaluation, Project, User


def user(username: str) -> User:
    found = db.session.scalar(select(User).where(User.username == username))
    assert found is not None, username
    return found


def evaluation_named(project_name: str) -> Evaluation:
    ev = db.session.scalar(select(Evaluation).join(Project).where(Project.name == project_name))
    assert ev is not None, project_name
    return ev


def seed_evaluation() -> Evaluation:
    return evaluation_named("政务服务信息系统建设维护和迭代升级")


def in_state(state: str) -> list[Evaluation]:
    return list(
        db.session.scalars(
            select(Evaluation).where(Evaluation.state == state).order_by(Evaluation.id)
        )
    )
