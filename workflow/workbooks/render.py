"""Write the 自评表 of an evaluation as .xlsx, laid out like the paper form.

Framework and targets are printed and locked (sheet protection without a password: it keeps
people from overtyping an indicator by accident, while the upload reads only the cells the
seal names, so a sheet unprotected by hand can change nothing else). The cells a unit fills
are unlocked and shaded, with drop-down lists for tiers and 不适用, number formats, wrap,
frozen header rows and an A4 landscape print set-up. A veryHidden sheet holds the seal.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.worksheet import Worksheet

from scoring.model import TIERS, Indicator, Scheme
from scoring.numbers import fmt
from workflow.evaluations.forms import NARRATIVE_LABELS, field_name
from workflow.workbooks import seal as seals
from workflow.workbooks.layout import NA_MARK, Slot, slots

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Columns: the paper form's order first (F is 实际完成值, as units know it), then what the
# unit needs beside it: which input a row is (or the checklist's 评价要点), the scoring
# rule, and 不适用.
COLUMNS = (
    ("A", "一级指标", 9),
    ("B", "二级指标", 11),
    ("C", "三级指标", 24),
    ("D", "年度指标值", 13),
    ("E", "分值", 7),
    ("F", "实际完成值", 16),
    ("G", "得分", 8),
    ("H", "偏差原因分析及改进措施", 28),
    ("I", "评价要点 / 填报项", 30),
    ("J", "评分规则", 34),
    ("K", "不适用", 8),
)
LAST = "K"

_THIN = Side(style="thin", color="000000")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # the unit's cells: pale yellow
HEAD_FILL = PatternFill("solid", fgColor="D9D9D9")
FONT = Font(name="宋体", size=10)
BOLD = Font(name="宋体", size=10, bold=True)
TITLE_FONT = Font(name="宋体", size=16, bold=True)
SMALL = Font(name="宋体", size=9)
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")
TOP_LEFT = Alignment(wrap_text=True, vertical="top")
UNLOCKED = Protection(locked=False)

AMOUNT_FORMAT = "#,##0.00"
SCORE_FORMAT = "0.00"
TEXT_FORMAT = "@"  # 实际完成值 stays as typed: "95%" must not become 0.95


@dataclass
class SheetData:
    """Everything a sheet prints, read from the database once (the writer touches no ORM)."""

    evaluation_id: int
    version: int
    scheme_digest: str
    scheme: Scheme
    year: str
    unit: str
    department: str
    project: str
    summary: str
    amount_unit: str
    amounts: list[tuple[str, Decimal | None]]
    entries: Mapping[str, Any]
    narrative: Mapping[str, str]
    state_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def sheet_data(evaluation: Any, scheme: Scheme, narrative_fields: tuple[str, ...]) -> SheetData:
    project = evaluation.project
    amounts = [
        ("年初预算数", project.budget_initial),
        ("全年预算数", project.budget_full),
        ("实际到位", project.funds_arrived),
        ("全年执行数", project.spent),
    ]
    return SheetData(
        evaluation_id=evaluation.id,
        version=evaluation.version,
        scheme_digest=evaluation.scheme_key,
        scheme=scheme,
        year=f"{evaluation.cycle.year}年度",
        unit=evaluation.unit.name,
        department=evaluation.department.name,
        project=project.name,
        summary=project.summary or "",
        amount_unit=project.amount_unit or "万元",
        amounts=amounts,
        entries=dict(evaluation.entries or {}),
        narrative={name: getattr(evaluation, name) or "" for name in narrative_fields},
        state_label=evaluation.state_label,
    )


class _Sheet:
    """A thin helper over the worksheet: styled cells and merges with borders.

    openpyxl hashes every style object each time one is assigned (and its merge_cells
    restyles the edges of every range): 0.6 s per sheet. Each distinct style is applied once
    per workbook and then copied to other cells as the cell's array of style ids, and merged
    ranges are registered without openpyxl's restyling: 30 times faster, the same file.
    """

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self._styles: dict[tuple[Any, ...], Any] = {}

    def style(
        self,
        cell: Any,
        font: Font = FONT,
        align: Alignment = WRAP,
        fill: PatternFill | None = None,
        fmt_: str | None = None,
        unlocked: bool = False,
    ) -> None:
        key = (id(font), id(align), id(fill), fmt_, unlocked)
        known = self._styles.get(key)
        if known is not None:
            cell._style = copy(known)
            return
        cell.font = font
        cell.alignment = align
        cell.border = BORDER
        if fill is not None:
            cell.fill = fill
        if fmt_ is not None:
            cell.number_format = fmt_
        if unlocked:
            cell.protection = UNLOCKED
        self._styles[key] = copy(cell._style)

    def put(
        self,
        ref: str,
        value: Any,
        *,
        font: Font = FONT,
        align: Alignment = WRAP,
        fill: PatternFill | None = None,
        fmt_: str | None = None,
        unlocked: bool = False,
    ) -> None:
        cell = self.ws[ref]
        cell.value = value
        self.style(cell, font, align, fill, fmt_, unlocked)

    def merge(self, first: str, last: str, row1: int, row2: int) -> None:
        if (first, row1) == (last, row2):
            return
        coord = f"{first}{row1}:{last}{row2}"
        # Straight into the set: MultiCellRange.add scans every range first (quadratic).
        self.ws.merged_cells.ranges.add(MergedCellRange(self.ws, coord))
        # The covered cells stay empty; they carry the border so the range prints boxed.
        top_left = f"{first}{row1}"
        for row in self.ws[coord]:
            for cell in row:
                if cell.coordinate != top_left:
                    self.style(cell, align=WRAP)


def _number(raw: Any) -> Any:
    """A stored text typed into the web form, as a cell value: numbers as numbers."""
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    try:
        value = Decimal(text.replace(",", ""))
    except ArithmeticError:
        return text
    if not value.is_finite():
        return text
    return int(value) if value == value.to_integral_value() else float(value)


def _height(text: str, width: int) -> float:
    """A row height that shows `text` wrapped in a column `width` characters wide (Excel
    does not grow rows on opening; a CJK character takes about two widths)."""
    if not text:
        return 15.0
    per_line = max(1, width // 2)
    lines = sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))
    return max(15.0, min(409.0, 13.5 * lines + 2))


def _value(entry: Mapping[str, Any], slot: Slot) -> Any:
    if slot.key.startswith("p") and slot.key[1:].isdigit():
        points = entry.get("points") or []
        index = int(slot.key[1:])
        if index < len(points) and points[index]:
            return str(points[index])
        tier = entry.get("tier")
        return tier if tier in TIERS else None
    raw = entry.get(slot.key)
    if slot.kind == "number" and slot.key in ("numerator", "denominator"):
        return _number(raw)
    return None if raw in (None, "") else str(raw)


def write_workbook(data: SheetData, key: str | bytes) -> bytes:
    """The .xlsx bytes of one 自评表, sealed with `key` (the app's SECRET_KEY)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "自评表"
    cells = _fill(_Sheet(ws), data)
    hidden = wb.create_sheet(seals.SHEET)
    for i, (name, value) in enumerate(
        seals.rows_for(
            seals.Seal(data.evaluation_id, data.version, data.scheme_digest, cells), key
        ),
        start=1,
    ):
        hidden.cell(row=i, column=1, value=name)
        hidden.cell(row=i, column=2, value=value)
    hidden.sheet_state = "veryHidden"  # not listed under 取消隐藏 in Excel
    hidden.protection.sheet = True
    wb.active = 0
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _fill(sheet: _Sheet, data: SheetData) -> dict[str, str]:
    ws = sheet.ws
    scheme = data.scheme
    for letter, _, width in COLUMNS:
        ws.column_dimensions[letter].width = width
    cells: dict[str, str] = {}

    # Title block.
    sheet.put("A1", scheme.title or "项目支出绩效自评表", font=TITLE_FONT, align=CENTER)
    sheet.merge("A", LAST, 1, 1)
    ws.row_dimensions[1].height = 28
    sheet.put("A2", data.year, align=CENTER)
    sheet.merge("A", LAST, 2, 2)
    sheet.put("A3", f"填报单位：{data.unit}")
    sheet.merge("A", "E", 3, 3)
    sheet.put("F3", f"主管部门：{data.department}")
    sheet.merge("F", LAST, 3, 3)
    sheet.put("A4", "项目名称", font=BOLD, align=CENTER, fill=HEAD_FILL)
    sheet.merge("A", "B", 4, 4)
    sheet.put("C4", data.project)
    sheet.merge("C", LAST, 4, 4)
    sheet.put("A5", "项目概况", font=BOLD, align=CENTER, fill=HEAD_FILL)
    sheet.merge("A", "B", 5, 5)
    sheet.put("C5", data.summary, align=TOP_LEFT)
    sheet.merge("C", LAST, 5, 5)
    ws.row_dimensions[5].height = _height(data.summary, 120)

    # Budget block (项目资金), printed from the project; the unit fills the amounts of the
    # budget indicator below, where the score is computed from them.
    sheet.put("A6", f"项目资金（{data.amount_unit}）", font=BOLD, align=CENTER, fill=HEAD_FILL)
    sheet.merge("A", "B", 6, 7)
    spans = (("C", "D"), ("E", "F"), ("G", "H"), ("I", "I"))
    for (first, last), (label, amount) in zip(spans, data.amounts, strict=False):
        sheet.put(f"{first}6", label, font=BOLD, align=CENTER, fill=HEAD_FILL)
        sheet.merge(first, last, 6, 6)
        sheet.put(f"{first}7", _number(amount), align=CENTER, fmt_=AMOUNT_FORMAT)
        sheet.merge(first, last, 7, 7)
    rate = "执行率"
    sheet.put("J6", rate, font=BOLD, align=CENTER, fill=HEAD_FILL)
    sheet.merge("J", LAST, 6, 6)
    full, spent = data.amounts[1][1], data.amounts[3][1]
    sheet.put("J7", float(spent / full) if full and spent is not None else None, align=CENTER)
    ws["J7"].number_format = "0.00%"
    sheet.merge("J", LAST, 7, 7)

    # Instructions, then the two header rows (frozen and repeated on every printed page).
    note = (
        "填写说明：黄色单元格由单位填写，其余内容已锁定。达成档次和评价要点请从下拉列表选择"
        "（达成 / 部分达成 / 未达成）；得分可不填，系统按评分规则计算；得分低于分值时须填写"
        "偏差原因分析及改进措施。填好后在系统的填报页点击“上传Excel”。"
    )
    sheet.put("A8", note, font=SMALL)
    sheet.merge("A", LAST, 8, 8)
    ws.row_dimensions[8].height = 30
    head1, head2 = 9, 10
    sheet.put(f"A{head1}", "评价指标", font=BOLD, align=CENTER, fill=HEAD_FILL)
    sheet.merge("A", "C", head1, head1)
    for letter, label in (("A", "一级指标"), ("B", "二级指标"), ("C", "三级指标")):
        sheet.put(f"{letter}{head2}", label, font=BOLD, align=CENTER, fill=HEAD_FILL)
    for letter, label, _ in COLUMNS[3:]:
        sheet.put(f"{letter}{head1}", label, font=BOLD, align=CENTER, fill=HEAD_FILL)
        sheet.merge(letter, letter, head1, head2)
    ws.freeze_panes = f"A{head2 + 1}"
    ws.print_title_rows = f"{head1}:{head2}"

    tier_list = DataValidation(
        type="list",
        formula1='"' + ",".join(TIERS) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="达成档次",
        error="请从下拉列表选择：达成 / 部分达成 / 未达成",
        promptTitle="达成档次",
        prompt="请选择：达成 / 部分达成 / 未达成",
        showInputMessage=True,
    )
    na_list = DataValidation(
        type="list",
        formula1=f'"{NA_MARK}"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=NA_MARK,
        error="本指标不适用时选择“不适用”，否则留空",
    )
    amount_rule = DataValidation(
        type="decimal",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="金额",
        error="请填写不小于 0 的数字",
    )
    for validation in (tier_list, na_list, amount_rule):
        ws.add_data_validation(validation)

    row = head2 + 1
    for l1, _key, items in _groups(scheme):
        l1_start = row
        for l2_name, inds in items:
            l2_start = row
            if not inds:
                sheet.put(f"C{row}", "（本项无三级指标）", font=SMALL)
                sheet.merge("C", LAST, row, row)
                row += 1
            for ind in inds:
                row = _indicator(
                    sheet,
                    ind,
                    row,
                    data.entries.get(ind.code) or {},
                    cells,
                    (tier_list, na_list, amount_rule),
                )
            sheet.put(f"B{l2_start}", l2_name, align=CENTER)
            sheet.merge("B", "B", l2_start, row - 1)
        sheet.put(f"A{l1_start}", l1, align=CENTER)
        sheet.merge("A", "A", l1_start, row - 1)

    sheet.put(f"A{row}", "总计", font=BOLD, align=CENTER)
    sheet.merge("A", "D", row, row)
    sheet.put(f"E{row}", _number(scheme.total), font=BOLD, align=CENTER)
    sheet.put(f"F{row}", "（总分与绩效等级由系统在提交时计算）", font=SMALL)
    sheet.merge("F", LAST, row, row)
    row += 1

    # The narrative below the table, as on the paper form.
    for name, lines in (("main_results", 8), ("problems", 4), ("measures", 4)):
        sheet.put(f"A{row}", NARRATIVE_LABELS[name], font=BOLD, align=CENTER, fill=HEAD_FILL)
        sheet.merge("A", "B", row, row)
        text = data.narrative.get(name, "")
        sheet.put(
            f"C{row}",
            text or None,
            align=TOP_LEFT,
            fill=INPUT_FILL,
            unlocked=True,
            fmt_=TEXT_FORMAT,
        )
        sheet.merge("C", LAST, row, row)
        ws.row_dimensions[row].height = max(13.5 * lines, _height(text, 120))
        cells[name] = f"C{row}"
        row += 1
    for (name, first, last), (label_first, label_last) in zip(
        (("filled_by", "B", "C"), ("phone", "E", "G"), ("unit_head", "I", LAST)),
        (("A", "A"), ("D", "D"), ("H", "H")),
        strict=True,
    ):
        sheet.put(
            f"{label_first}{row}", NARRATIVE_LABELS[name], font=BOLD, align=CENTER, fill=HEAD_FILL
        )
        sheet.merge(label_first, label_last, row, row)
        sheet.put(
            f"{first}{row}",
            data.narrative.get(name) or None,
            fill=INPUT_FILL,
            unlocked=True,
            fmt_=TEXT_FORMAT,
        )
        sheet.merge(first, last, row, row)
        cells[name] = f"{first}{row}"

    ws.protection.sheet = True
    # What the protection still lets a unit do: resize and format nothing, but select and
    # type in the unlocked cells.
    ws.protection.selectLockedCells = False
    ws.protection.selectUnlockedCells = False
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.oddFooter.center.text = "第 &P 页 共 &N 页"
    ws.print_area = f"A1:{LAST}{row}"
    return cells


def _groups(scheme: Scheme) -> list[tuple[str, str, list[tuple[str, list[Indicator]]]]]:
    """(一级 label with its weight, -, [(二级, leaves)]) in print order, empty 二级 kept."""
    order: list[tuple[str, str]] = []
    leaves: dict[tuple[str, str], list[Indicator]] = {}
    for g in scheme.groups:
        if len(g.path) == 2:
            key = (g.path[0], g.path[1])
            if key not in leaves:
                order.append(key)
                leaves[key] = []
    for ind in scheme.indicators:
        key = (ind.path[0], ind.path[1])
        if key not in leaves:
            order.append(key)
            leaves[key] = []
        leaves[key].append(ind)
    result: list[tuple[str, str, list[tuple[str, list[Indicator]]]]] = []
    for l1, l2 in order:
        if not result or result[-1][1] != l1:
            weight = scheme.group_weight((l1,))
            label = l1 + (f"（{fmt(weight)}分）" if weight is not None else "")
            result.append((label, l1, []))
        result[-1][2].append((l2, leaves[(l1, l2)]))
    return result


def _indicator(
    sheet: _Sheet,
    ind: Indicator,
    row: int,
    entry: Mapping[str, Any],
    cells: dict[str, str],
    validations: tuple[DataValidation, DataValidation, DataValidation],
) -> int:
    """Print one indicator's block (one row per input) and return the next free row."""
    tier_list, na_list, amount_rule = validations
    inputs = slots(ind)
    first, last = row, row + len(inputs) - 1
    code = ind.code
    sheet.put(f"C{first}", ind.path[2])
    sheet.put(f"D{first}", ind.target.text, align=CENTER)
    sheet.put(f"E{first}", _number(ind.weight), align=CENTER)
    sheet.put(f"J{first}", ind.rule_text or None, font=SMALL, align=TOP_LEFT)
    weight_text = fmt(ind.weight)
    score = DataValidation(
        type="decimal",
        operator="between",
        formula1="0",
        formula2=weight_text,
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="得分",
        error=f"得分须为 0 至 {weight_text} 之间的数字（可不填，由系统计算）",
    )
    sheet.ws.add_data_validation(score)
    block = (
        ("G", "score", _number(entry.get("score")), SCORE_FORMAT, score),
        ("H", "reason", entry.get("reason") or None, TEXT_FORMAT, None),
        ("K", "na", NA_MARK if entry.get("na") else None, None, na_list),
    )
    for letter, key, value, number_format, validation in block:
        ref = f"{letter}{first}"
        sheet.put(
            ref,
            value,
            fill=INPUT_FILL,
            unlocked=True,
            fmt_=number_format,
            align=CENTER if letter != "H" else TOP_LEFT,
        )
        if validation is not None:
            validation.add(ref)
        cells[field_name(code, key)] = ref
    for letter in ("C", "D", "E", "G", "H", "J", "K"):
        sheet.merge(letter, letter, first, last)
    rule_lines = _height(ind.rule_text, 34) / max(1, len(inputs))
    for offset, slot in enumerate(inputs):
        r = first + offset
        ref = f"F{r}"
        value = _value(entry, slot)
        number_format = AMOUNT_FORMAT if slot.key in ("numerator", "denominator") else TEXT_FORMAT
        sheet.put(ref, value, fill=INPUT_FILL, unlocked=True, fmt_=number_format, align=CENTER)
        if slot.kind == "tier":
            tier_list.add(ref)
        elif slot.key in ("numerator", "denominator"):
            amount_rule.add(ref)
        sheet.put(f"I{r}", slot.label, font=SMALL)
        cells[field_name(code, slot.key)] = ref
        sheet.ws.row_dimensions[r].height = max(_height(slot.label, 30), rule_lines, 18.0)
    return last + 1
