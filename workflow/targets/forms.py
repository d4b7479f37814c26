"""Parsing the targets page's posts: the rows as typed, and the row actions (add, remove,
move, pick from the library) that work as plain form posts without JavaScript."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

ROW_KEYS = (
    "level1",
    "level2",
    "name",
    "nature",
    "value",
    "unit",
    "weight",
    "code",
    "library_id",
    "source",
)


@dataclass
class TargetsPost:
    goal: str
    rows: list[dict[str, Any]]
    action: str  # save, submit, adjust, add, remove, up, down, library
    row: int | None  # the 0-based row an action is about
    reason: str
    version: int | None
    library_id: int | None


def parse_targets_post(form: MultiDict[str, str]) -> TargetsPost:
    lists = {key: form.getlist(f"{key}[]") for key in ROW_KEYS}
    count = max((len(values) for values in lists.values()), default=0)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        row = {key: (values[i] if i < len(values) else "") for key, values in lists.items()}
        rows.append(row)
    raw_action = form.get("action", "save")
    action, _, target = raw_action.partition(":")
    row_index = int(target) if target.isdigit() else None
    version_text = form.get("version", "")
    library_text = form.get("library_pick", "")
    return TargetsPost(
        goal=form.get("goal", ""),
        rows=rows,
        action=action,
        row=row_index,
        reason=form.get("reason", ""),
        version=int(version_text) if version_text.isdigit() else None,
        library_id=int(library_text) if library_text.isdigit() else None,
    )


def apply_row_action(post: TargetsPost, library: Mapping[int, Any]) -> bool:
    """Change the rows as the action says; True when it was a row action (the page is
    shown again with the rows, saved as typed)."""
    rows = post.rows
    index = post.row
    if post.action == "add":
        level1 = rows[-1]["level1"] if rows else ""
        level2 = rows[-1]["level2"] if rows else ""
        rows.append(
            {
                "level1": level1,
                "level2": level2,
                "name": "",
                "nature": ">=",
                "value": "",
                "unit": "",
                "weight": "",
                "code": "",
                "library_id": "",
                "source": "typed",
            }
        )
        return True
    if post.action == "remove" and index is not None and index < len(rows):
        del rows[index]
        return True
    if post.action == "up" and index is not None and 0 < index < len(rows):
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
        return True
    if post.action == "down" and index is not None and index + 1 < len(rows):
        rows[index + 1], rows[index] = rows[index], rows[index + 1]
        return True
    if post.action == "library":
        item = library.get(post.library_id or -1)
        if item is None:
            return True
        rows.append(
            {
                "level1": item.level1,
                "level2": item.level2,
                "name": item.name,
                "nature": item.nature,
                "value": item.default_value,
                "unit": item.unit,
                "weight": "",
                "code": "",
                "library_id": str(item.id),
                "source": "library",
            }
        )
        return True
    return False
