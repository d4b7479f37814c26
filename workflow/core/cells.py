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
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Flask, request
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


class RowCache:
    """The HTML of list rows, keyed by everything the row shows.

    A list row is a pure function of its ``ListRow`` (names, state, scores, version, the
    deadline with its days left): the key is that whole tuple, so a changed evaluation, a new
    day or another page of the list can never be served an older row; an unchanged row is
    not rendered again. Rows are the same for everybody who may see them, and a user only
    ever asks for the rows the list gave them. Least recently used rows go first.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[Hashable, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], str]) -> Markup:
        return self.many([(key, None)], lambda _row: render())[0]

    def many(
        self, items: Sequence[tuple[Hashable | None, Any]], render: Callable[[Any], str]
    ) -> list[Markup]:
        """The HTML of each (key, row): kept rows from the cache, the others printed by
        ``render(row)`` and kept. A row whose key is None is printed and not kept. One
        lock for the whole list, not two per row: a page's 50 rows took longer to look up
        one by one than to join."""
        if self.size <= 0:
            return [Markup(render(row)) for _key, row in items]  # noqa: S704 - autoescaped macro output
        rows = self._rows
        found: list[Markup | None] = []
        with self._lock:
            for key, _row in items:
                html = rows.get(key) if key is not None else None
                if html is not None:
                    rows.move_to_end(key)
                found.append(html)
        missing = [i for i, html in enumerate(found) if html is None]
        if not missing:
            return found  # type: ignore[return-value]
        for i in missing:
            found[i] = Markup(render(items[i][1]))  # noqa: S704 - autoescaped macro output
        with self._lock:
            for i in missing:
                key = items[i][0]
                if key is not None:
                    rows[key] = found[i]  # type: ignore[assignment]
            while len(rows) > self.size:
                rows.popitem(last=False)
        return found  # type: ignore[return-value]

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


def cached_rows(
    cache: RowCache,
    kind: str,
    macro: Callable[[Any], str],
    rows: Iterable[Any],
    key: str | None = None,
) -> Markup:
    """``{{ cached_rows('review.queue', list_row, page.rows) }}``: each row as the row macro
    prints it, from the cache when the same row was shown before. ``kind`` names the macro
    (each list prints its own columns); the macro may use nothing but its row. A row is its
    own key (list rows are named tuples of what they show) or, with ``key``, names the
    attribute that holds it (None: print the row, do not keep it). The links in a row start
    with the script root, which is part of the key."""
    root = request.script_root
    if key is None:
        items = [((kind, root, row), row) for row in rows]
    else:
        items = []
        for row in rows:
            own = getattr(row, key)
            items.append((None if own is None else (kind, root, own), row))
    # Every piece is markup already: join the strings, not Markup.join's escape per piece.
    return Markup("".join(cache.many(items, macro)))  # noqa: S704 - autoescaped macro output


def init_app(app: Flask) -> None:
    size = int(app.config.get("LIST_ROW_CACHE", 4096))
    if app.debug or app.config.get("TEMPLATES_AUTO_RELOAD"):
        size = 0  # templates may change under a running process: rows from an older macro
    cache = app.extensions["row_cache"] = RowCache(size)
    app.jinja_env.globals.update(
        state_badge=state_badge,
        total_cell=total_cell,
        deadline_cell=deadline_cell,
        cached_rows=functools.partial(cached_rows, cache),
    )
