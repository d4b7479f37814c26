"""Parsing small values people type into URLs and forms."""

from __future__ import annotations

import re

from werkzeug.routing import IntegerConverter

# The largest value of the database's INTEGER (PostgreSQL int4; SQLite's own is wider).
DB_INT_MAX = 2**31 - 1

# Characters refused in any submitted text: C0 controls but tab, line feed and carriage
# return, DEL, and the bidirectional overrides and isolates that make text read differently
# from what it stores (U+202A–U+202E, U+2066–U+2069). PostgreSQL refuses NUL in text outright.
FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
FORBIDDEN_MESSAGE = "提交的内容含有不允许的控制字符（如空字符或双向文本控制符），请删除后重新提交。"


def has_forbidden_chars(text: str) -> bool:
    return FORBIDDEN_CHARS.search(text) is not None


class BoundedIntConverter(IntegerConverter):
    """<int:...> that matches only 0 .. DB_INT_MAX: a larger id is a 404, not a database
    error (PostgreSQL refuses to compare int4 with a larger number)."""

    def __init__(self, map, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def parse_int(text: object, *, maximum: int = 2**31 - 1) -> int | None:
    """A non-negative whole number written in ASCII digits, else None.

    str.isdigit() alone accepts "²" or "١", which int() then rejects with an exception: a
    500 from a query string. Only 0-9 count here.
    """
    if not isinstance(text, str):
        return None
    raw = text.strip()
    if not raw or len(raw) > 12 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= maximum else None
