"""The reader's workbook view (`read_workbook`): sheets by name with their visibility, cells
by reference, numbers as shown or as typed, a sheet as far as its cells go (not the size it
declares), bounded by max_rows (saying whether it went on) and max_columns; the same code
`read_book` reads .xlsx with."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from openpyxl import Workbook

from scoring.importers import (
    FormReadError,
    coordinate,
    percent_number,
    read_book,
    read_workbook,
    reference,
)


def _book() -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "自评表"
    ws["A1"] = "项目名称"
    ws["C3"] = 0.955
    ws["C3"].number_format = "0%"
    ws["D3"] = 912.5
    ws["E3"] = 1000
    ws["F12"] = "  九十 "
    ws["G4"] = dt.datetime(2023, 1, 5)
    ws["H4"] = True
    ws["AA2"] = "far"
    hidden = book.create_sheet("_seal")
    hidden["A1"] = "payload"
    hidden["B1"] = '{"a": 1}'
    hidden.sheet_state = "veryHidden"
    book.create_sheet("空白")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_sheets_by_name_hidden_ones_included() -> None:
    sheets = read_workbook(_book(), "表.xlsx")
    assert [(s.name, s.state) for s in sheets] == [
        ("自评表", "visible"),
        ("_seal", "veryHidden"),
        ("空白", "visible"),
    ]
    seal = sheets[1]
    assert seal.cell("A1") == "payload" and seal.cell("B1") == '{"a": 1}'


def test_cells_by_reference_as_text() -> None:
    form = read_workbook(_book())[0]
    assert form.cell("A1") == "项目名称"
    assert form.cell("C3") == "96%"  # as printed
    assert form.cell("D3") == "912.5" and form.cell("E3") == "1000"
    assert form.cell("F12") == "  九十 "  # as stored; the caller trims
    assert form.cell("G4") == "2023-01-05" and form.cell("H4") == "是"
    assert form.cell("AA2") == "far" and form.cell("$AA$2") == "far"
    assert form.cell("Z999") == "" and form.cell("B1") == ""
    with pytest.raises(ValueError):
        form.cell("not a cell")


def test_exact_numbers_are_what_was_typed() -> None:
    form = read_workbook(_book(), exact=True)[0]
    assert form.cell("C3") == "95.5%"


def test_max_rows_stops_each_sheet() -> None:
    form = read_workbook(_book(), max_rows=3)[0]
    assert len(form.rows) == 3 and form.cell("F12") == ""


def test_read_book_keeps_the_non_empty_sheets_in_order() -> None:
    book = read_book("表.xlsx", _book())
    assert book.kind == "xlsx" and len(book.sheets) == 2  # the empty 空白 sheet is left out
    assert book.sheets[1][0][:2] == ["payload", '{"a": 1}']


def test_damaged_workbook_says_so_in_chinese() -> None:
    with pytest.raises(FormReadError, match="无法打开"):
        read_workbook(b"PK\x03\x04" + b"\0" * 200, "坏.xlsx")


@pytest.mark.parametrize(
    ("ref", "row", "column"),
    [("A1", 1, 1), ("F12", 12, 6), ("Z9", 9, 26), ("AA3", 3, 27), ("XFD1048576", 1048576, 16384)],
)
def test_coordinate_and_reference_are_inverse(ref: str, row: int, column: int) -> None:
    assert coordinate(ref) == (row, column)
    assert reference(row, column) == ref


@pytest.mark.parametrize("bad", ["", "A0", "12", "ABCD1", "F12x", "F-1"])
def test_not_a_reference(bad: str) -> None:
    with pytest.raises(ValueError):
        coordinate(bad)


def _declaring(data: bytes, dimension: str) -> bytes:
    """The same workbook with each sheet's declared size replaced, as some writers leave it
    ("A1", or a range from before rows were added)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for member in source.namelist():
            content = source.read(member)
            if member.startswith("xl/worksheets/sheet"):
                content = re.sub(rb'<dimension ref="[^"]*"\s*/>', dimension.encode(), content)
            target.writestr(member, content)
    return out.getvalue()


@pytest.mark.parametrize("dimension", ['<dimension ref="A1"/>', '<dimension ref="A1:C3"/>', ""])
def test_a_sheet_goes_as_far_as_its_cells_whatever_size_it_declares(dimension: str) -> None:
    form = read_workbook(_declaring(_book(), dimension), exact=True)[0]
    assert form.cell("F12") == "  九十 " and form.cell("AA2") == "far"
    assert form.cell("C3") == "95.5%" and not form.more
    assert read_book("表.xlsx", _declaring(_book(), dimension)).sheets[0][11][5] == "  九十 "


def test_more_says_whether_a_sheet_goes_on_past_max_rows() -> None:
    whole = read_workbook(_book(), max_rows=12)
    assert not whole[0].more and whole[0].cell("F12") == "  九十 "
    assert not whole[1].more and len(whole[1].rows) == 1  # the seal: one row
    cut = read_workbook(_book(), max_rows=11)[0]
    assert cut.more and len(cut.rows) == 11 and cut.cell("F12") == ""
    assert not read_workbook(_book())[0].more


def test_max_columns_leaves_out_the_columns_to_the_right() -> None:
    form = read_workbook(_book(), max_columns=8)[0]
    assert form.cell("H4") == "是" and form.cell("AA2") == ""
    assert max(len(row) for row in form.rows) == 8


@pytest.mark.parametrize(
    ("text", "number"),
    [("95.5%", "95.5"), ("100%", "100"), (" 1,200 ％ ", "1,200"), ("-5%", "-5"), ("0%", "0")],
)
def test_percent_number(text: str, number: str) -> None:
    assert percent_number(text) == number


@pytest.mark.parametrize("text", ["95", "九十%", "95%%", "%", "约95%", "95% 以上", ""])
def test_not_a_percent_number(text: str) -> None:
    assert percent_number(text) is None
