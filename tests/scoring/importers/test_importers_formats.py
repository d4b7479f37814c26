"""One form saved as .txt, .csv, .xlsx, .xls, .ods, .docx and PDF gives the same scorecard."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from importer_files import (
    FORMS,
    Rows,
    rows_of,
    tsv,
    write_docx,
    write_ods,
    write_pdf,
    write_xls,
    write_xlsx,
)

from scoring import import_form, import_forms
from scoring.importers.compare import check_form

# Form A of the 普陀 file: budget in 元 with a thousands separator and a printed rate one
# hundredth off, a qualitative row, and a 总分 row.
PUTUO = FORMS / "putuo_tiyu_2022_two_forms.txt"


def form_a() -> Rows:
    rows = rows_of(PUTUO.read_text(encoding="utf-8"))
    return rows[:18]


def summary(path_or_text: Any) -> dict[str, Any]:
    """What must not depend on the file type: scores, weights, published values, flags."""
    result = import_form(path_or_text)
    check = check_form(result)
    return {
        "rows": [(r.code, r.path, r.weight, r.score, r.applicable) for r in check.card.rows],
        "published": {k: Decimal(v) if v else None for k, v in result.published.items()},
        "total": (check.card.total, Decimal(result.published_total or "0"), check.grade),
        "row_flags": {k: sorted(f.code for f in v) for k, v in check.row_flags.items()},
        "form_flags": sorted(f.code for f in check.flags),
        "incomplete": result.incomplete,
        "project": result.header.get("project"),
        "unit": result.header.get("unit"),
        "amount_unit": result.header.get("amount_unit"),
    }


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    data = summary(tsv(form_a()))
    assert data["total"] == (Decimal("98.62"), Decimal("98.62"), "优")
    assert "printed_rate_mismatch" in data["row_flags"]["budget_execution"]
    return data


def _csv(rows: Rows, path: Path) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")
    return path


WRITERS: dict[str, Callable[[Rows, Path], Path]] = {
    "txt-utf8": lambda rows, p: (p.write_text(tsv(rows), encoding="utf-8"), p)[1],
    "txt-bom": lambda rows, p: (p.write_text(tsv(rows), encoding="utf-8-sig"), p)[1],
    "txt-gb18030": lambda rows, p: (p.write_bytes(tsv(rows).encode("gb18030")), p)[1],
    "txt-utf16": lambda rows, p: (p.write_bytes(tsv(rows).encode("utf-16")), p)[1],
    "txt-utf16be": lambda rows, p: (
        p.write_bytes(b"\xfe\xff" + tsv(rows).encode("utf-16-be")),
        p,
    )[1],
    "csv": _csv,
    "xlsx": write_xlsx,
    "xlsm": write_xlsx,
    "xls": write_xls,
    "ods": write_ods,
    "docx": write_docx,
    "pdf": write_pdf,
}
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "xlsm": ".xlsm", "xls": ".xls", "ods": ".ods",
          "docx": ".docx", "pdf": ".pdf"}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_same_scorecard_in_every_file_type(
    kind: str, tmp_path: Path, expected: dict[str, Any]
) -> None:
    path = WRITERS[kind](form_a(), tmp_path / ("form" + SUFFIX.get(kind, ".txt")))
    assert summary(path) == expected
    source = import_form(path).source_kind
    assert source == {"txt-utf8": "txt", "txt-bom": "txt", "txt-gb18030": "txt", "txt-utf16": "txt",
                      "txt-utf16be": "txt", "xlsm": "xlsx"}.get(kind, kind)  # fmt: skip


def test_xlsx_percent_cells_read_as_shown(tmp_path: Path) -> None:
    path = write_xlsx(form_a(), tmp_path / "form.xlsx")
    result = import_form(path)
    # 0.8619 formatted "0.00%" is the printed 86.19%, not 0.8619.
    assert result.header["budget_rate"] == "86.19%"
    assert result.header["budget_executed"] == "215457.6"


def test_two_forms_in_an_xlsx_and_in_a_docx(tmp_path: Path) -> None:
    rows = rows_of(PUTUO.read_text(encoding="utf-8"))
    for path in (write_xlsx(rows, tmp_path / "two.xlsx"), write_docx(rows, tmp_path / "two.docx")):
        forms = import_forms(path)
        assert [len(f.entries) for f in forms] == [6, 1]
        assert [f.incomplete for f in forms] == [False, True]
        assert forms[1].header["project"] == "援滇对口支援及结对帮扶经费"


def test_workbook_with_a_form_on_each_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    assert first is not None
    for r, row in enumerate(form_a(), start=1):
        for c, text in enumerate(row, start=1):
            first.cell(row=r, column=c, value=text or None)
    book.create_sheet("说明").cell(row=1, column=1, value="填表说明：本表由单位填报")
    second = book.create_sheet("第二张")
    for r, row in enumerate(form_a(), start=1):
        for c, text in enumerate(row, start=1):
            second.cell(row=r, column=c, value=(text.replace("98.62", "97.62") or None))
    path = tmp_path / "sheets.xlsx"
    book.save(path)
    forms = import_forms(path)
    assert [f.published_total for f in forms] == ["98.62", "97.62"]
    assert forms[1].form_index == 1 and forms[1].form_count == 2
