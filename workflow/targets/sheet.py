"""The 绩效目标申报表 as an .xlsx workbook: written for a project's targets, read back from the
unit's upload or from finance's import of approved targets.

The sheet is laid out like the paper 申报表: title, the project block (项目名称 and 项目编码,
预算单位 and 单位编码, 主管部门 and 年度), the 年度总体目标, then one row per indicator (一级,
二级, 三级指标, 指标性质, 指标值, 度量单位, 分值, 指标库编号) with blank rows to add more. The
project block is locked (sheet protection without a password: it guards against slips, not
people); the goal and the rows are unlocked and shaded; 一级/二级指标 and 指标性质 have drop-down
lists from the framework. A veryHidden sheet holds which targets the file was written for,
with an HMAC over it keyed with ``SECRET_KEY``: a unit's upload onto another project's page is
refused. Finance's import matches on the project block's codes instead (the budget system's
own sheets have no seal), as the JSON import does. Uploads are read by the form reader
(`scoring.importers.read_workbook`), never opened here; openpyxl only writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.worksheet.datavalidation import DataValidation

from scoring.frameworks import NATURE_SYMBOLS, Framework
from scoring.importers import FormReadError, Sheet, percent_number, read_workbook

SHEET_TITLE = "绩效目标申报表"
SEAL_SHEET = "seal"
# (header, row field, column width)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("一级指标", "level1", 10),
    ("二级指标", "level2", 16),
    ("三级指标", "name", 34),
    ("指标性质", "nature", 10),
    ("指标值", "value", 14),
    ("度量单位", "unit", 10),
    ("分值", "weight", 8),
    ("指标库编号", "library_id", 11),
)
LETTERS = "ABCDEFGH"
HEAD_ROW = 8
FIRST_ROW = HEAD_ROW + 1
BLANK_ROWS = 20
# An upload is read this far down and no further (a project has tens of indicators): a sheet
# that goes on is refused with its row named, never cut silently or held whole in memory.
MAX_ROWS = 2000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old .xls format
QUANTITATIVE = (">=", "<=", "=")
# What a user may type under 指标性质, read as the stored nature.
NATURE_WORDS: dict[str, str] = {
    **{symbol: nature for nature, symbol in NATURE_SYMBOLS.items()},
    **{nature: nature for nature in NATURE_SYMBOLS},
    "＞=": ">=",
    "＜=": "<=",
    "≧": ">=",
    "≦": "<=",
    "＝": "=",
    "==": "=",
    "日期": "date",
    "时间": "date",
}

INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
HEAD_FILL = PatternFill("solid", fgColor="D9D9D9")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


class SheetError(ValueError):
    """A file that cannot be read as a 绩效目标申报表, with the reason in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class SheetData:
    """What the writer prints (read from the database by the caller)."""

    targets_id: int
    project_name: str
    project_code: str
    unit_name: str
    unit_code: str
    department_name: str
    year: int
    goal: str
    rows: Sequence[dict[str, Any]]
    framework: Framework


@dataclass
class ReadSheet:
    """An uploaded sheet: the project block as typed, the goal, the rows (text, as the web
    form posts them) and every bad cell named."""

    targets_id: int | None
    project_code: str
    unit_code: str
    year: str
    project_name: str
    goal: str
    rows: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _mac(key: str | bytes, payload: str) -> str:
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def _seal_payload(targets_id: int, project_code: str, year: int) -> str:
    return f"targets:{targets_id}|{project_code}|{year}"


def write_sheet(data: SheetData, key: str | bytes, *, blank: bool = False) -> bytes:
    """The sheet of one project's targets; ``blank``: finance's template, the project block
    left for them to type (unlocked) and no seal (an import matches on the codes)."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    for letter, (_, _, width) in zip(LETTERS, COLUMNS, strict=True):
        ws.column_dimensions[letter].width = width

    def put(ref: str, value: Any, *, head: bool = False, editable: bool = False) -> None:
        cell = ws[ref]
        cell.value = value
        cell.border = BOX
        cell.alignment = CENTER if head else WRAP
        if head:
            cell.fill = HEAD_FILL
            cell.font = Font(bold=True)
        if editable:
            cell.fill = INPUT_FILL
            cell.protection = Protection(locked=False)

    ws.merge_cells("A1:H1")
    ws["A1"] = "项目支出绩效目标申报表"
    ws["A1"].font = Font(bold=True, size=16)
    ws["A1"].alignment = CENTER
    ws.row_dimensions[1].height = 30
    ws.merge_cells("A2:H2")
    ws["A2"] = f"（{data.year}年度）"
    ws["A2"].alignment = CENTER
    block = (
        (3, "项目名称", data.project_name, "项目编码", data.project_code),
        (4, "预算单位", data.unit_name, "单位编码", data.unit_code),
        (5, "主管部门", data.department_name, "年度", data.year),
    )
    for row, left, left_value, right, right_value in block:
        put(f"A{row}", left, head=True)
        ws.merge_cells(f"B{row}:D{row}")
        put(f"B{row}", left_value, editable=blank and row != 5)
        put(f"E{row}", right, head=True)
        ws.merge_cells(f"F{row}:H{row}")
        put(f"F{row}", right_value, editable=blank and row != 5)
    put("A6", "年度总体目标", head=True)
    ws.merge_cells("B6:H6")
    put("B6", data.goal, editable=True)
    for letter in LETTERS[2:]:
        ws[f"{letter}6"].protection = Protection(locked=False)
    ws.row_dimensions[6].height = max(45, 15 * (1 + len(data.goal) // 45))
    levels = [level.name for level in data.framework.project_levels()]
    level2 = [name for level in data.framework.project_levels() for name in level.level2_names()]
    ws.merge_cells("A7:H7")
    ws["A7"] = (
        "填写说明：黄色单元格由单位填写；一级指标为 "
        + "、".join(
            f"{level.name}（{level.weight}分）" for level in data.framework.project_levels()
        )
        + "，各一级指标下分值合计须等于其分值；指标性质为 ≥、≤、=、定性 或 日期；"
        "定量指标的指标值为数字并填写度量单位，日期指标填写日期（如 2022-12-31）。"
    )
    ws["A7"].alignment = WRAP
    ws["A7"].font = Font(size=9, color="595959")
    ws.row_dimensions[7].height = 42
    for letter, (title, _, _) in zip(LETTERS, COLUMNS, strict=True):
        put(f"{letter}{HEAD_ROW}", title, head=True)
    last = FIRST_ROW + len(data.rows) + BLANK_ROWS - 1
    for offset in range(last - FIRST_ROW + 1):
        row = data.rows[offset] if offset < len(data.rows) else {}
        r = FIRST_ROW + offset
        for letter, (_, name, _) in zip(LETTERS, COLUMNS, strict=True):
            value: Any = row.get(name, "")
            if name == "nature":
                value = NATURE_SYMBOLS.get(str(value), value)
            elif name == "weight" or (name == "value" and row.get("nature") in (">=", "<=", "=")):
                # Numbers as numbers: Excel flags a number stored as text.
                with contextlib.suppress(InvalidOperation):
                    value = Decimal(str(value)) if str(value).strip() else None
                if isinstance(value, Decimal) and value.is_finite():
                    value = int(value) if value == value.to_integral() else float(value)
            put(f"{letter}{r}", value if value != "" else None, editable=True)
        ws[f"G{r}"].number_format = "0.##"
    if levels:
        dv = DataValidation(type="list", formula1='"' + ",".join(levels) + '"', allow_blank=True)
        dv.error = "请从列表中选择一级指标"
        dv.add(f"A{FIRST_ROW}:A{last}")
        ws.add_data_validation(dv)
    if level2 and len(",".join(level2)) < 250:
        dv2 = DataValidation(type="list", formula1='"' + ",".join(level2) + '"', allow_blank=True)
        dv2.error = "请从列表中选择二级指标"
        dv2.add(f"B{FIRST_ROW}:B{last}")
        ws.add_data_validation(dv2)
    natures = DataValidation(
        type="list", formula1='"' + ",".join(NATURE_SYMBOLS.values()) + '"', allow_blank=True
    )
    natures.error = "指标性质应为 ≥、≤、=、定性 或 日期"
    natures.add(f"D{FIRST_ROW}:D{last}")
    ws.add_data_validation(natures)
    weights = DataValidation(type="decimal", operator="between", formula1="0", formula2="100")
    weights.allow_blank = True
    weights.error = "分值须为 0 到 100 之间的数字"
    weights.add(f"G{FIRST_ROW}:G{last}")
    ws.add_data_validation(weights)
    ws.freeze_panes = f"A{FIRST_ROW}"
    ws.print_title_rows = f"{HEAD_ROW}:{HEAD_ROW}"
    ws.protection.sheet = True
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    out = io.BytesIO()
    if blank:
        wb.save(out)
        return out.getvalue()
    hidden = wb.create_sheet(SEAL_SHEET)
    hidden.sheet_state = "veryHidden"
    payload = _seal_payload(data.targets_id, data.project_code, data.year)
    hidden["A1"] = payload
    hidden["A2"] = _mac(key, payload)
    hidden.protection.sheet = True
    wb.save(out)
    return out.getvalue()


def read_sheet(filename: str, data: bytes, key: str | bytes, max_bytes: int) -> ReadSheet:
    """Every cell of an uploaded sheet; bad cells are named, never dropped silently.

    The file is read by the form reader (`scoring.importers.read_workbook`), which reads
    every spreadsheet the system is given: the sheets by name (the very hidden seal too),
    each cell by its reference, numbers as typed (95.5% in a cell that shows 96%)."""
    if not filename.lower().endswith((".xlsx", ".xlsm")):
        raise SheetError(f"{filename}：请上传 .xlsx 文件")
    if len(data) > max_bytes:
        raise SheetError(f"{filename}：文件超过 {max_bytes // (1024 * 1024)} MB")
    if data.startswith(OLE_MAGIC):
        raise SheetError(
            f"{filename}：这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 后再上传"
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise SheetError(f"{filename}：文件已损坏或不是 Excel 文件")
    try:
        sheets = read_workbook(
            data, filename, exact=True, max_rows=MAX_ROWS, max_columns=len(LETTERS)
        )
    except FormReadError as exc:
        raise SheetError(
            f"{filename}：文件已损坏，无法读取：请在 Excel 中打开并另存为 .xlsx 后再上传"
        ) from exc
    by_name = {sheet.name: sheet for sheet in sheets}
    ws = by_name.get(SHEET_TITLE)
    if ws is None:
        raise SheetError(f"{filename}：找不到工作表“{SHEET_TITLE}”")

    def text(ref: str, of: Sheet = ws) -> str:
        return of.cell(ref).strip()

    if text(f"A{HEAD_ROW}") != COLUMNS[0][0] or text(f"G{HEAD_ROW}") != "分值":
        raise SheetError(f"{filename}：第{HEAD_ROW}行不是指标表头，请使用系统下载的申报表")
    targets_id = None
    seal = by_name.get(SEAL_SHEET)
    if seal is not None:
        payload, mac = text("A1", seal), text("A2", seal)
        if not hmac.compare_digest(_mac(key, payload), mac):
            raise SheetError(f"{filename}：文件的校验信息被修改，请重新下载申报表")
        head = payload.split("|", 1)[0]
        if not head.startswith("targets:") or not head[8:].isdigit():
            raise SheetError(f"{filename}：文件不是绩效目标申报表，请重新下载")
        targets_id = int(head[8:])
    if ws.more:
        raise SheetError(
            f"{filename}：工作表“{SHEET_TITLE}”超过 {MAX_ROWS} 行，超出申报表的范围："
            f"请删去第 {MAX_ROWS} 行以下的行后再上传"
        )
    sheet = ReadSheet(
        targets_id=targets_id,
        project_name=text("B3"),
        project_code=text("F3"),
        unit_code=text("F4"),
        year=text("F5"),
        goal=text("B6"),
    )
    for r in range(FIRST_ROW, len(ws.rows) + 1):
        values = {
            name: text(f"{letter}{r}")
            for letter, (_, name, _) in zip(LETTERS, COLUMNS, strict=True)
        }
        if any(values.values()):
            sheet.problems.extend(_row_problems(r, values))
            values["source"] = "library" if values["library_id"] else "typed"
            sheet.rows.append(values)
    return sheet


def _row_problems(r: int, values: dict[str, str]) -> list[str]:
    """The bad cells of row ``r``, each named; the values are made what the web form posts
    (指标性质 as stored, a percent cell's number under the unit %, no bad 指标库编号)."""
    problems: list[str] = []
    nature = values["nature"]
    if nature:
        known = NATURE_WORDS.get(nature.replace(" ", ""))
        if known is None:
            problems.append(f"D{r} 指标性质：“{nature}”应为 ≥、≤、=、定性 或 日期")
        else:
            values["nature"] = known
    value = values["value"]
    if value and values["nature"] in QUANTITATIVE:
        number = percent_number(value)
        if number is not None and values["unit"] in ("%", "％"):
            # Excel turns a typed 95% into a percent cell; the unit already says %.
            values["value"] = value = number
        if number is not None and values["value"] != number:
            problems.append(f"E{r} 指标值：“{value}”带百分号：指标值填数字，度量单位填 %")
        elif not _is_number(value):
            problems.append(f"E{r} 指标值：“{value}”不是数字（定量指标）")
    weight = values["weight"]
    if weight and not _is_number(weight, commas=False):
        problems.append(f"G{r} 分值：“{weight}”不是数字")
    library = values["library_id"]
    if library and not library.isdigit():
        problems.append(f"H{r} 指标库编号：“{library}”不是编号，已忽略")
        values["library_id"] = ""
    return problems


def _is_number(text: str, *, commas: bool = True) -> bool:
    try:
        return Decimal(text.replace(",", "") if commas else text).is_finite()
    except InvalidOperation:
        return False
