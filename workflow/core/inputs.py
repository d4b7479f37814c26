"""Parsing small values people type into URLs and forms."""

from __future__ import annotations


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
