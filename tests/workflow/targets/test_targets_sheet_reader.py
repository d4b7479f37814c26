"""The 绩效目标申报表 and the 指标库 uploads are read by the form reader
(`scoring.importers.read_workbook`): a sheet as far as its cells go whatever size the file
declares, numbers as typed (a percent cell under the unit % gives its number), a sheet that
goes on past the rows read refused with the row named, an old .xls named as such; the
指标库 from its own sheet, hidden sheets left alone. No module of workflow/ opens an upload
with openpyxl."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from scoring.frameworks import builtin_framework
from tests.workflow.targets.test_targets_pages import _as
from workflow.core.extensions import db
from workflow.models import LibraryIndicator
from workflow.targets.library import COLUMNS
from workflow.targets.sheet import MAX_ROWS, SheetData, SheetError, read_sheet, write_sheet

KEY = "test-key"
LIMIT = 5 * 1024 * 1024
ROWS = [
    ("产出", "数量指标", "培训人次", "≥", 800, "人次", 10),
    ("产出", "质量指标", "培训考核合格率", "≥", 0.955, "%", 10),
    ("效益", "社会效益", "业务能力提升", "定性", "明显提升", None, 30),
]


def _sheet(rows: list[tuple[Any, ...]] = ROWS, *, percent_row: int | None = 10) -> bytes:
    """A project's sheet as downloaded, filled as a user does in Excel (95.5% typed into the
    value cell of row 10 makes it a percent cell)."""
    framework, _ = builtin_framework("jiangsu-2022")
    data = SheetData(7, "培训项目", "P-1", "单位A", "320002", "部门", 2022, "", [], framework)
    book = load_workbook(BytesIO(write_sheet(data, KEY)))
    ws = book["绩效目标申报表"]
    ws["B6"] = "全年培训800人次"
    for offset, row in enumerate(rows):
        for letter, value in zip("ABCDEFG", row, strict=True):
            ws[f"{letter}{9 + offset}"] = value
    if percent_row is not None:
        ws[f"E{percent_row}"].number_format = "0%"
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _declaring(data: bytes, dimension: str) -> bytes:
    source = zipfile.ZipFile(BytesIO(data))
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for member in source.namelist():
            content = source.read(member)
            if member.startswith("xl/worksheets/sheet"):
                content = re.sub(rb'<dimension ref="[^"]*"\s*/>', dimension.encode(), content)
            target.writestr(member, content)
    return out.getvalue()


def test_a_percent_cell_under_the_unit_percent_is_its_number_as_typed() -> None:
    sheet = read_sheet("申报表.xlsx", _sheet(), KEY, LIMIT)
    assert sheet.targets_id == 7 and sheet.project_code == "P-1" and sheet.year == "2022"
    assert sheet.problems == []
    assert [(r["name"], r["value"], r["unit"]) for r in sheet.rows] == [
        ("培训人次", "800", "人次"),
        ("培训考核合格率", "95.5", "%"),  # shown as 96% by the "0%" format
        ("业务能力提升", "明显提升", ""),
    ]


def test_a_percent_under_another_unit_is_named() -> None:
    rows = list(ROWS)
    rows[1] = ("产出", "质量指标", "培训考核合格率", "≥", 0.95, "人次", 10)
    sheet = read_sheet("申报表.xlsx", _sheet(rows), KEY, LIMIT)
    assert sheet.problems == ["E10 指标值：“95%”带百分号：指标值填数字，度量单位填 %"]
    assert sheet.rows[1]["value"] == "95%"  # kept as typed


def test_rows_past_the_declared_size_are_read() -> None:
    data = _declaring(_sheet(), '<dimension ref="A1:H9"/>')
    sheet = read_sheet("申报表.xlsx", data, KEY, LIMIT)
    assert [r["name"] for r in sheet.rows] == ["培训人次", "培训考核合格率", "业务能力提升"]


def test_a_sheet_going_on_past_the_rows_read_is_refused() -> None:
    book = load_workbook(BytesIO(_sheet()))
    book["绩效目标申报表"][f"C{MAX_ROWS + 5}"] = "藏在下面的指标"
    out = BytesIO()
    book.save(out)
    with pytest.raises(SheetError, match=f"超过 {MAX_ROWS} 行.*请删去第 {MAX_ROWS} 行以下"):
        read_sheet("申报表.xlsx", out.getvalue(), KEY, LIMIT)


def test_an_old_xls_and_a_damaged_archive_are_named() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600
    with pytest.raises(SheetError, match="旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx"):
        read_sheet("申报表.xlsx", ole, KEY, LIMIT)
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as target:
        target.writestr("xl/workbook.xml", "<not-a-workbook/>")
    with pytest.raises(SheetError, match="申报表.xlsx：文件已损坏，无法读取"):
        read_sheet("申报表.xlsx", archive.getvalue(), KEY, LIMIT)


def _library(*sheets: tuple[str, str, list[list[Any]]]) -> bytes:
    """A workbook of (title, state, rows) sheets."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, state, rows in sheets:
        ws = book.create_sheet(title)
        ws.sheet_state = state
        for row in rows:
            ws.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _import(app: Flask, data: bytes, name: str = "lib.xlsx") -> str:
    resp = _as(app, "sysadmin").post(
        "/targets/library/import",
        data={"file": (BytesIO(data), name)},
        follow_redirects=True,
    )
    return resp.get_data(as_text=True)


def test_the_library_is_read_from_its_sheet_with_percent_cells_as_typed(app: Flask) -> None:
    entry = ["产出", "质量指标", "志愿者培训合格率", "≥", "%", 0.975, "合格人数 ÷ 参训人数", "启用"]
    book = load_workbook(
        BytesIO(
            _library(
                ("说明", "hidden", [["本表由系统导出"]]),
                ("封面", "visible", [["指标库导出"]]),
                ("指标库", "visible", [list(COLUMNS), entry]),
            )
        )
    )
    book["指标库"]["F2"].number_format = "0%"
    out = BytesIO()
    book.save(out)
    assert "已导入：新增 1 个，更新 0 个" in _import(app, out.getvalue())
    with app.app_context():
        item = db.session.scalar(
            select(LibraryIndicator).where(LibraryIndicator.name == "志愿者培训合格率")
        )
        assert item is not None and item.default_value == "97.5" and item.nature == ">="
    # Without a sheet of that name, the first one Excel shows (a hidden one is left alone);
    # rows past the declared size are read all the same.
    hidden = ("旧表", "hidden", [["不是指标库"]])
    shown = ("Sheet1", "visible", [list(COLUMNS), ["效益", "社会效益", "新增就业", ">=", "人"]])
    data = _declaring(_library(hidden, shown), '<dimension ref="A1"/>')
    assert "已导入：新增 1 个，更新 0 个" in _import(app, data)
    # Not an .xlsx at all: said so, with what to do.
    html = _import(app, "一级指标,二级指标\n".encode(), "lib.csv")
    assert "文件不是 .xlsx 工作簿：请在 Excel 或 WPS 中另存为 .xlsx 后再导入" in html


def test_no_workflow_module_opens_an_upload_with_openpyxl() -> None:
    """Uploads are read by the form reader; openpyxl only writes workbooks in workflow/."""
    root = Path(__file__).resolve().parents[3] / "workflow"
    readers = [
        str(path.relative_to(root.parent))
        for path in root.rglob("*.py")
        if re.search(r"\bload_workbook\b|openpyxl\.reader", path.read_text(encoding="utf-8"))
    ]
    assert readers == []


def test_a_json_export_in_gb18030_is_read_and_a_broken_one_is_named_in_chinese() -> None:
    from workflow.targets.imports import TargetsError, parse_json_upload

    export = '{"projects": [{"name": "政务服务事项标准化"}]}'
    for data in (export.encode("utf-8"), b"\xef\xbb\xbf" + export.encode(), export.encode("gbk")):
        assert parse_json_upload(data) == {"projects": [{"name": "政务服务事项标准化"}]}
    with pytest.raises(TargetsError) as refused:
        parse_json_upload(b'{"projects": [\n  {"name": "x",}\n]}')
    message = str(refused.value)
    assert "第 2 行" in message and "格式错误" in message
    assert not any(word in message for word in ("Expecting", "property", "char"))
