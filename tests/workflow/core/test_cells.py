"""The list cells written in Python (workflow/cells.py) escape what they show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from workflow.core import cells
from workflow.evaluations.views import Deadline


def test_state_badge_escapes_its_values() -> None:
    html = cells.state_badge('x" onmouseover="alert(1)', "<b>草稿</b>")
    assert "<b>" not in html and '" onmouseover' not in html
    assert "&lt;b&gt;草稿&lt;/b&gt;" in html


def test_total_cell_prints_two_places_and_escapes_the_grade() -> None:
    assert cells.total_cell(None, None) == "—"
    html = cells.total_cell(Decimal("89.99"), "<优>")
    assert ">89.99<" in html
    assert html.count("&lt;优&gt;") == 2 and "<优>" not in html
    assert ">98.50<" in cells.total_cell(Decimal("98.5"), "优")


def test_deadline_cell_marks_overdue_and_escapes() -> None:
    assert cells.deadline_cell(Deadline("", "", None, None)) == "—"
    late = cells.deadline_cell(Deadline("review", "<审核>", date(2026, 3, 1), -3))
    assert "overdue" in late and "已逾期 3 天" in late and "&lt;审核&gt;" in late
    due = cells.deadline_cell(Deadline("submit", "单位填报", date(2026, 3, 1), 0))
    assert "text-muted" in due and "今天截止" in due and "2026-03-01" in due


def test_row_cache_renders_once_per_content_and_evicts_the_oldest() -> None:
    cache = cells.RowCache(2)
    calls: list[str] = []

    def render(text: str):  # noqa: ANN202
        return lambda: calls.append(text) or f"<tr>{text}</tr>"

    assert cache.get(("k", 1), render("a")) == "<tr>a</tr>"
    assert cache.get(("k", 1), render("ignored")) == "<tr>a</tr>"
    cache.get(("k", 2), render("b"))
    cache.get(("k", 3), render("c"))  # evicts ("k", 1), the least recently used
    cache.get(("k", 1), render("a2"))
    assert calls == ["a", "b", "c", "a2"]
    off = cells.RowCache(0)
    off.get(("k", 1), render("x"))
    off.get(("k", 1), render("y"))
    assert calls[-2:] == ["x", "y"]


def test_a_changed_evaluation_is_never_served_its_old_row(app) -> None:  # noqa: ANN001
    from sqlalchemy import select, update

    from tests.workflow.pagehelpers import client_as
    from workflow.core.extensions import db
    from workflow.models import Evaluation

    reviewer = client_as(app, "reviewer")
    with app.app_context():
        ev = db.session.scalars(
            select(Evaluation).where(Evaluation.state.in_(("self_scored", "dept_review")))
        ).first()
        assert ev is not None
        ev_id = ev.id
    first = reviewer.get("/review/").get_data(as_text=True)
    assert f"/evaluations/{ev_id}" in first
    with app.app_context():
        db.session.execute(
            update(Evaluation).where(Evaluation.id == ev_id).values(self_total=Decimal("12.34"))
        )
        db.session.commit()
    again = reviewer.get("/review/").get_data(as_text=True)
    assert ">12.34<" in again and ">12.34<" not in first


def test_row_cache_keeps_the_recently_used_row() -> None:
    cache = cells.RowCache(2)
    calls: list[str] = []

    def render(text: str):  # noqa: ANN202
        return lambda: calls.append(text) or text

    cache.get(1, render("1"))
    cache.get(2, render("2"))
    cache.get(1, render("1 again"))  # a hit: 1 is now the most recently used
    cache.get(3, render("3"))  # evicts 2, not 1
    cache.get(1, render("1 third"))
    cache.get(2, render("2 again"))
    assert calls == ["1", "2", "3", "2 again"]


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"page": 2},
        {"state": ["self_scored", "dept_review"], "unit": 5, "page": 3},
        {"state": [""], "q": "政务 服务&a=b/100%_?#", "cycle": 7, "page": 1},
        {"q": "!$'()*,/:;?@ +", "page": 9, "none": None},
    ],
)
@pytest.mark.parametrize("root", ["", "/jixiao"])
def test_page_url_and_path_for_are_url_for(app, args: dict, root: str) -> None:  # noqa: ANN001
    from flask import url_for

    from workflow.core.web import page_url, path_for

    for endpoint in ("review.queue", "finance.queue", "evaluations.index"):
        with app.test_request_context("/", base_url=f"http://localhost{root}/"):
            assert path_for(endpoint) == url_for(endpoint)
            expected = url_for(endpoint, **{**args, "page": 4})
            assert page_url(endpoint, args, page=4) == expected
            assert path_for("static", "css/app.css") == url_for("static", filename="css/app.css")
            assert expected.startswith(f"{root}/")
