"""Helpers for the page tests: find the demo world's evaluations by project name."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from workflow.core.extensions import db
from workflow.models import Evaluation, Project

SEED = "政务服务信息系统建设维护和迭代升级"


def ev_id(app: Flask, project: str) -> int:
    with app.app_context():
        value = db.session.scalar(
            select(Evaluation.id).join(Project).where(Project.name == project)
        )
        assert value is not None, project
        return int(value)


def ev_of(app: Flask, evaluation_id: int) -> Evaluation:
    with app.app_context():
        ev = db.session.get(Evaluation, evaluation_id)
        assert ev is not None
        db.session.expunge(ev)
        return ev


def version(app: Flask, evaluation_id: int) -> int:
    with app.app_context():
        return int(db.session.get(Evaluation, evaluation_id).version)


def form_values(html: str) -> dict[str, str]:
    """The values a browser would post from the page: inputs, selected options, textareas."""
    values: dict[str, str] = {}
    for m in re.finditer(r"<input([^>]*)>", html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
        name = attrs.get("name")
        if not name or attrs.get("type") in ("file", "submit"):
            continue
        if attrs.get("type") == "checkbox" and " checked" not in m.group(1):
            continue
        values[name] = _unescape(attrs.get("value", ""))
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        sel = re.search(r'<option value="([^"]*)" selected>', m.group(2))
        values[m.group(1)] = _unescape(sel.group(1)) if sel else ""
    for m in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        values[m.group(1)] = _unescape(m.group(2))
    return values


def _unescape(text: str) -> str:
    import html as h

    return h.unescape(text)


def client_as(app: Flask, username: str) -> FlaskClient:
    """A fresh client logged in as `username` (one client per user: logging in again on the
    same client would keep the first session)."""
    from tests.conftest import login

    client = app.test_client()
    login(client, username)
    return client
