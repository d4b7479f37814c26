"""Rows printed through the row cache are exactly the rows printed without it.

For each page the cache is first filled by another state of the same data (other entries,
other errors, other scores, another day of the deadline), then the page is printed with the
cache and without it: the two must be the same bytes. A key that missed something a row
shows would serve the older row and fail here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.workflow.pagehelpers import SEED, client_as, ev_id, form_values
from workflow.core.extensions import db
from workflow.models import Evaluation

CSRF = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*(")')


def _same_with_and_without_cache(app: Flask, fetch: Callable[[], str]) -> str:
    cache = app.extensions["row_cache"]
    with_cache = fetch()
    size, cache.size = cache.size, 0
    try:
        without = fetch()
    finally:
        cache.size = size
    assert CSRF.sub(r"\1-\2", with_cache) == CSRF.sub(r"\1-\2", without)
    return with_cache


def _form(client: FlaskClient, evaluation_id: int) -> dict[str, str]:
    return form_values(client.get(f"/evaluations/{evaluation_id}/edit").get_data(as_text=True))


def test_form_rows_follow_entries_errors_and_scores(app: Flask) -> None:
    seed = ev_id(app, SEED)
    unit = client_as(app, "unit_a")
    values = _form(unit, seed)  # fills the cache with the form as saved
    url = f"/evaluations/{seed}/edit"

    # Other entries, recomputed but not saved: other scores, explanations, reason boxes.
    changed = {**values, "e-quantity_1-tier": "未达成", "e-quantity_1-score": "", "do": "recalc"}
    html = _same_with_and_without_cache(
        app, lambda: unit.post(url, data=changed).get_data(as_text=True)
    )
    assert 'id="reason-quantity_1" class="reason-box"' in html

    # The same entries with an error on one row and on another field of the same row.
    for field, typed in (("e-quantity_1-score", "NaN"), ("e-quantity_1-actual", "很多")):
        bad = {**changed, field: typed, "do": "save"}
        html = _same_with_and_without_cache(
            app, lambda bad=bad: unit.post(url, data=bad).get_data(as_text=True)
        )
        assert f'data-testid="error-{field}"' in html or field.endswith("-actual")

    # Saved, then shown again.
    saved = {**values, "e-quantity_2-tier": "部分达成", "e-quantity_2-score": "1.5"}
    saved["e-quantity_2-reason"] = "旗舰店迁移期间短时不可用"
    assert unit.post(url, data={**saved, "do": "save"}).status_code == 302
    assert "草稿已保存" in unit.get(url).get_data(as_text=True)  # the message, shown once
    html = _same_with_and_without_cache(app, lambda: unit.get(url).get_data(as_text=True))
    assert "旗舰店迁移期间短时不可用" in html


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("reviewer", "/review/"),
        ("finance", "/finance/"),
        ("reviewer", "/evaluations/"),
        ("unit_a", "/evaluations/"),
        ("reviewer", "/"),
    ],
)
def test_list_rows_follow_scores_states_and_days(app: Flask, username: str, url: str) -> None:
    client = client_as(app, username)
    client.get(url)  # fills the cache
    client.get(url + ("&" if "?" in url else "?") + "state=")
    with app.app_context():
        ids = db.session.scalars(select(Evaluation.id)).all()
        db.session.execute(
            update(Evaluation)
            .where(Evaluation.id.in_(ids))
            .values(self_total=Decimal("61.25"), self_grade="中", version=Evaluation.version + 1)
        )
        db.session.commit()
    for query in ("", "?state="):
        html = _same_with_and_without_cache(
            app, lambda query=query: client.get(url + query).get_data(as_text=True)
        )
        assert "61.25" in html, (username, url, query)


def test_list_rows_follow_the_day(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from workflow.evaluations import views

    client = client_as(app, "reviewer")
    first = client.get("/review/").get_data(as_text=True)
    later = views.today() + timedelta(days=3)
    monkeypatch.setattr(views, "today", lambda: later)
    html = _same_with_and_without_cache(app, lambda: client.get("/review/").get_data(as_text=True))
    days = re.findall(r"剩 (\d+) (?:天|个工作日)|已逾期 (\d+) (?:天|个工作日)|今天截止", first)
    assert days and html != first


def test_the_form_row_key_changes_with_each_thing_the_row_shows(app: Flask) -> None:
    """Scores can change without the row's own entry changing (a not-applicable row
    elsewhere rescales the rest), and errors are shown per field: each part counts alone."""
    from dataclasses import replace

    import scoring
    from workflow.evaluations import views

    with app.app_context():
        ev = db.session.get(Evaluation, ev_id(app, SEED))
        scheme = views.scheme_for(ev)
        entries = dict(ev.entries or {})
        card = views.scorecard(ev, entries)
        row = next(r for r in views.form_rows(scheme, card, entries, None, "t1") if r.indicator)
        other_result = scoring.score(scheme, {**entries, row.code: {"actual": "0"}}).row(row.code)
        assert other_result.score != row.result.score
        variants = [
            replace(row, result=other_result),
            replace(row, entry={**row.entry, "reason": "另一段说明"}),
            replace(row, scheme_token="t2"),
            replace(row, l1_span=row.l1_span + 1),
        ]
        keys = {row.cache_key} | {v.cache_key for v in variants}
        assert None not in keys and len(keys) == len(variants) + 1
        # Rows with errors, or with long typed text, are printed and not kept.
        assert replace(row, errors={row.name("score"): "不是有效数值"}).cache_key is None
        assert replace(row, entry={**row.entry, "reason": "很长" * 300}).cache_key is None
        assert (
            replace(row, entry={**row.entry, "actual": 1}).cache_key
            != replace(row, entry={**row.entry, "actual": True}).cache_key
        )


def test_list_rows_filled_by_one_role_are_right_for_another(app: Flask) -> None:
    """Rows are shared by everybody who may see them: what finance put in the cache is what
    a reviewer and a unit would have printed themselves, and nothing more."""
    client_as(app, "finance").get("/evaluations/?state=")
    client_as(app, "sysadmin").get("/evaluations/?state=")
    for username in ("reviewer", "unit_a", "reviewer_2"):
        client = client_as(app, username)
        _same_with_and_without_cache(
            app, lambda client=client: client.get("/evaluations/?state=").get_data(as_text=True)
        )
