"""The small cells every list and evaluation page repeats: state badge, total with its grade,
deadline with the days left.

They are Python functions registered as Jinja globals, not macros: a list of 50 rows called
them 200 times per page, and a Jinja macro call cost about as much as the rest of a row. They
are pure functions of a few values that repeat down a list (five states, a handful of
deadlines), so their results are memoised; the markup they return is immutable. Every
value that comes from data passes through ``escape`` before it joins the markup (ruff's
S704 is silenced line by line for that reason; tests/web/test_cells.py checks the escaping).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import TYPE_CHECKING

from flask import Flask
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from workflow.evaluations.views import Deadline


@functools.lru_cache(maxsize=256)
def state_badge(state: str, label: str) -> Markup:
    label_html, state_html = escape(label), escape(state)
    return Markup(f'<span class="badge state-badge state-{state_html}">{label_html}</span>')  # noqa: S704


@functools.lru_cache(maxsize=4096)
def total_cell(total: Decimal | None, grade: str | None) -> Markup:
    if total is None:
        return Markup("—")
    g = escape(grade or "")
    return Markup(  # noqa: S704 - the grade is escaped, the total is a Decimal
        f'<span class="text-nowrap">{total:.2f}</span> '
        f'<span class="badge grade-badge grade-{g}">{g}</span>'
    )


@functools.lru_cache(maxsize=256)
def deadline_cell(d: Deadline) -> Markup:
    if not d.day:
        return Markup("—")
    tone = "overdue" if d.overdue else "text-muted"
    return Markup(  # noqa: S704 - the texts are escaped, the day is a date
        f'<span class="text-nowrap">{d.day.isoformat()}</span>\n'
        f'<small class="d-block {tone}">{escape(d.label)} · {escape(d.text)}</small>'
    )


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        state_badge=state_badge, total_cell=total_cell, deadline_cell=deadline_cell
    )
