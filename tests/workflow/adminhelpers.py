"""Helpers of the administration page tests (admin and accounts): ids of the demo world,
the error shown beside a field, the value an input kept."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from workflow.core.extensions import db
from workflow.models import Cycle, Org, User


def demo_ids(app: Flask) -> dict[str, int]:
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == "unit_b"))
        cid = db.session.scalar(select(Cycle.id))
        assert uid and cid
        return {"uid": uid, "cid": cid}


def get_user(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None
        db.session.expunge(user)
        return user


def org_id(app: Flask, name: str) -> int:
    with app.app_context():
        org_id = db.session.scalar(select(Org.id).where(Org.name == name))
        assert org_id is not None
        return org_id


def field_error(html: str, field: str) -> str:
    match = re.search(rf'data-testid="error-{field}">([^<]*)<', html)
    assert match, f"no error next to {field}"
    return match.group(1)


def kept_value(html: str, field: str) -> str:
    match = re.search(rf'<input[^>]*name="{field}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{field}"', html
    )
    assert match, f"no value kept in {field}"
    return match.group(1)
