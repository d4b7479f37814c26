"""Cell helpers shared by the layers: cleaning, null marks, numbers, narrative paragraphs."""

from __future__ import annotations

import html
import re

from ..numbers import InputError, parse_decimal

__all__ = [
    "NULLS",
    "cell",
    "clean",
    "coordinate",
    "is_number",
    "is_null",
    "paragraphs",
    "percent_number",
    "reference",
    "value",
]

# Marks that mean "nothing here" in a cell.  In an actual-value cell of a weighted row they
# mean 不适用 (the engine's NA marks); elsewhere they are empty.
NULLS = frozenset({"/", "／", "—", "——", "-", "--", "－", "*", "＊", "…", "……", "...", "无数据"})
NA_ACTUALS = frozenset({"/", "／", "—", "——", "-", "--", "－", "不适用"})
_PARA = re.compile(r"<\s*/?\s*p\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_PERCENT = re.compile(r"\s*(-?[0-9][0-9,]*(?:\.[0-9]+)?)\s*[%％]\s*")
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([1-9][0-9]{0,6})")


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


def percent_number(text: str) -> str | None:
    """The number of a percentage as typed, for a caller whose unit column already says %:
    "95.5%" -> "95.5" (an Excel percent cell read exact gives "95.5%"), "1,200 ％" -> "1,200";
    None when the text is not one number with a percent sign."""
    match = _PERCENT.fullmatch(text)
    return match.group(1) if match else None


def coordinate(ref: str) -> tuple[int, int]:
    """A spreadsheet reference as 1-based (row, column): "F12" -> (12, 6), "$AA$3" -> (3, 27).
    ValueError for anything else."""
    match = _REF.fullmatch(ref.strip())
    if match is None:
        raise ValueError(f"not a cell reference: {ref!r}")
    column = 0
    for letter in match.group(1).upper():
        column = column * 26 + ord(letter) - ord("A") + 1
    return int(match.group(2)), column


def reference(row: int, column: int) -> str:
    """The reference of a 1-based (row, column): (12, 6) -> "F12"."""
    if row < 1 or column < 1:
        raise ValueError(f"no cell at row {row}, column {column}")
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{row}"
