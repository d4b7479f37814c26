"""The list cells written in Python (workflow/cells.py) escape what they show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from workflow import cells
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
