"""Reading an uploaded workbook: checks on the file, the seal, then every sealed cell as text.

The cells become the same field names the web form posts (``e-<code>-actual``,
``main_results``), so the evaluations' own `parse_entry_form` checks them: an upload is
exactly the form typed in. Errors are keyed by field, with the cell named in the message
("F12 实际完成值：'九十' 不是数字").
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scoring.importers import FormReadError, coordinate, read_workbook
from scoring.model import TIERS, Scheme, tier_from_label
from scoring.numbers import parse_quantity
from workflow.evaluations.forms import EntryForm, parse_entry_form
from workflow.workbooks import seal as seals
from workflow.workbooks.layout import NA_MARK, labels, number_fields

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old .xls (and .et) format
MAX_MEMBERS = 2000
MAX_UNZIPPED = 100 * 1024 * 1024  # a real 自评表 unzips to well under 1 MB
NA_YES = {NA_MARK, "是", "√", "✓", "1", "y", "Y", "yes", "YES"}
# A 自评表 of the largest framework is a few hundred rows: nothing further down is read, so
# that a sheet blown up inside a small file is never held in memory.
MAX_ROWS = 5000
# The 自评表 uses a dozen columns; a cell typed far to the right (XFD) must not make the
# reader hold a row of 16,384 cells for every row of the sheet.
MAX_COLUMNS = 64


class WorkbookError(ValueError):
    """The file cannot be read as one of our workbooks; the message is Chinese."""


@dataclass
class SheetValues:
    """The seal and the text of every sealed cell, as the web form would post it."""

    seal: seals.Seal
    values: dict[str, str]
    cell_errors: dict[str, str] = field(default_factory=dict)


def check_file(filename: str, data: bytes, max_bytes: int) -> None:
    """Type and size, before any parsing."""
    name = filename.lower()
    if not data:
        raise WorkbookError("上传的文件是空的")
    if len(data) > max_bytes:
        raise WorkbookError(
            f"文件过大（{len(data) // 1024} KB），自评表 Excel 不能超过 {max_bytes // 1024 // 1024} MB"
        )
    if data.startswith(OLE_MAGIC) or name.endswith((".xls", ".et")):
        raise WorkbookError("这是旧版 .xls 文件：请在 Excel 中“另存为” .xlsx 格式后再上传")
    if not data.startswith(XLSX_MAGIC) or not name.endswith((".xlsx", ".xlsm")):
        raise WorkbookError("请上传从本系统下载的 Excel 文件（.xlsx）")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNZIPPED:
                raise WorkbookError("文件内容异常（解压后过大），不能读取")
            bad = archive.testzip()
    except zipfile.BadZipFile as exc:
        raise WorkbookError("文件已损坏，无法打开：请在 Excel 中重新保存为 .xlsx 后再上传") from exc
    if bad is not None:
        raise WorkbookError("文件已损坏，无法打开：请在 Excel 中重新保存为 .xlsx 后再上传")


def read_values(data: bytes, key: str | bytes) -> SheetValues:
    """The sealed cells' texts (the seal verified, nothing else trusted).

    The file is read by the form reader (`scoring.importers.read_workbook`), the one piece
    of code that reads every spreadsheet the system is given; numbers come as typed (95.5%,
    not the 96% a "0%" cell shows)."""
    try:
        sheets = {
            sheet.name: sheet
            for sheet in read_workbook(data, exact=True, max_rows=MAX_ROWS, max_columns=MAX_COLUMNS)
        }
    except FormReadError as exc:
        raise WorkbookError("文件已损坏或不是 Excel 工作簿，无法读取：请重新下载后填写") from exc
    hidden = sheets.get(seals.SHEET)
    if hidden is None:
        raise seals.SealError(
            "文件中没有本系统的校验信息：请使用从本系统下载的自评表 Excel 文件填写"
        )
    # (name, value) lines; an empty value is no value (seals.read says what is missing).
    rows = {cells[0]: cells[1] for cells in hidden.rows if len(cells) >= 2 and cells[1]}
    seal = seals.read(rows, key)
    sheet = sheets.get("自评表") or next(iter(sheets.values()))
    values: dict[str, str] = {}
    for name, ref in seal.cells.items():
        row, column = _position(ref)
        if row > MAX_ROWS or column > MAX_COLUMNS:
            raise WorkbookError("文件中的表格超出自评表的范围，无法读取：请重新下载后填写")
        values[name] = sheet.cell(ref).strip() if row else ""
    return SheetValues(seal, values)


def _position(ref: str) -> tuple[int, int]:
    """(row, column) of a sealed cell, for sheet order; (0, 0) when there is none."""
    try:
        return coordinate(ref)
    except ValueError:
        return 0, 0


def parse_upload(
    sheet: SheetValues, scheme: Scheme, current: Mapping[str, Any]
) -> tuple[EntryForm, dict[str, str]]:
    """The upload as the web form parses it, and each bad field's message naming its cell."""
    posted: dict[str, str] = {}
    cell_errors: dict[str, str] = {}
    names = labels(scheme)
    for name, text in sheet.values.items():
        if name.endswith("-na"):
            if text and text not in NA_YES:
                cell_errors[name] = f"'{text}' 无效，请选择“{NA_MARK}”或留空"
                text = ""
            posted[name] = "1" if text else ""
        else:
            posted[name] = text
    posted["version"] = str(sheet.seal.version)
    form = parse_entry_form(posted, scheme, current)
    numbers = number_fields(scheme)
    for name, message in form.errors.items():
        text = posted.get(name, "")
        if name in numbers and parse_quantity(text) is None and tier_from_label(text) is None:
            message = f"'{text}' 不是数字"
        elif text and len(text) <= 40 and text not in message:
            message = f"'{text}' {message}"
        cell_errors[name] = message
    # Every message names its cell; a bad 不适用 cell (the web form's checkbox cannot be bad)
    # joins the form's errors here.
    # In sheet order (top to bottom, left to right), as a person goes through the file.
    ordered = sorted(cell_errors, key=lambda n: _position(sheet.seal.cells.get(n, "")))
    messages = {
        name: f"{sheet.seal.cells.get(name, '')} {names.get(name, name)}：{cell_errors[name]}"
        for name in ordered
    }
    form.errors.update(messages)
    return form, messages


def valid_part(form: EntryForm, stored: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """What may be saved of a form with errors: each bad field keeps its stored value, and
    everything else as uploaded (the page still shows what was typed, with the messages)."""
    entries: dict[str, Any] = {}
    for code, entry in form.entries.items():
        prefix = f"e-{code}-"
        bad = [name[len(prefix) :] for name in form.errors if name.startswith(prefix)]
        if not bad:
            entries[code] = entry
            continue
        before = dict(stored.get(code) or {})
        fixed = dict(entry)
        fixed.pop("imported", None)
        for key in bad:
            if key.startswith("p") and key[1:].isdigit():
                index = int(key[1:])
                points = list(fixed.get("points") or [])
                old = list(before.get("points") or [])
                if index < len(points):
                    # A whole-item tier (an imported form) is what the sheet showed there.
                    whole = before.get("tier") if before.get("tier") in TIERS else ""
                    points[index] = old[index] if index < len(old) and old[index] else whole
                fixed["points"] = points
            elif key == "na":
                fixed["na"] = bool(before.get("na"))
            elif key in before:
                fixed[key] = before[key]
            else:
                fixed.pop(key, None)
        entries[code] = fixed
    narrative = {name: value for name, value in form.narrative.items() if name not in form.errors}
    return entries, narrative
