"""Cell helpers shared by the layers: cleaning, null marks, numbers, narrative paragraphs."""

from __future__ import annotations

import html
import re

from ..numbers import InputError, parse_decimal

__all__ = ["NULLS", "cell", "clean", "is_number", "is_null", "paragraphs", "value"]

# Marks that mean "nothing here" in a cell.  In an actual-value cell of a weighted row they
# mean 不适用 (the engine's NA marks); elsewhere they are empty.
NULLS = frozenset({"/", "／", "—", "——", "-", "--", "－", "*", "＊", "…", "……", "...", "无数据"})
NA_ACTUALS = frozenset({"/", "／", "—", "——", "-", "--", "－", "不适用"})
_PARA = re.compile(r"<\s*/?\s*p\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def clean(text: str) -> str:
    """Trim and unwrap a cell: "…" from exports and “…” around a whole cell."""
    text = text.strip().replace("\u3000", " ").strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('""', '"').strip()
    if len(text) >= 2 and text[0] == "“" and text[-1] == "”" and text.count("“") == text.count("”"):
        inner = text[1:-1]
        if "“" not in inner:
            text = inner.strip()
    return text


def value(text: str) -> str:
    """A cell as data: the null marks become empty."""
    return "" if text in NULLS else text


def is_null(text: str) -> bool:
    return text in NA_ACTUALS


def cell(cells: list[str], index: int) -> str:
    return cells[index] if 0 <= index < len(cells) else ""


def is_number(text: str) -> bool:
    if not text:
        return False
    try:
        parse_decimal(text, allow_percent=True)
    except InputError:
        return False
    return True


def paragraphs(text: str) -> list[str]:
    parts = [html.unescape(_TAG.sub("", part)).strip() for part in _PARA.split(text)]
    return [part for part in parts if part]
