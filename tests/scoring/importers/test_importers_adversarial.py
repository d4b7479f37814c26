"""Thirty-odd bad files written by the tests: each gets the right flag or a clear refusal.

A refusal is one Chinese FormReadError sentence (and exit 2 with it on stderr from the
command line), never a traceback and never a silent 0.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from importer_files import ROOT, SIMPLE_FORM, rows_of, write_docx, write_pdf, write_xlsx

from scoring import FormReadError, import_forms
from scoring.importers.compare import FormCheck, check_form

D = Decimal
Write = Callable[[Path], Path]


def text(content: str, name: str = "form.txt", encoding: str = "utf-8") -> Write:
    def write(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content.encode(encoding))
        return path

    return write


def raw(content: bytes, name: str) -> Write:
    def write(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content)
        return path

    return write


def sub(old: str, new: str) -> str:
    assert old in SIMPLE_FORM, old
    return SIMPLE_FORM.replace(old, new)


def _empty_xlsx(tmp: Path) -> Path:
    from openpyxl import Workbook

    path = tmp / "empty.xlsx"
    Workbook().save(path)
    return path


def _zip(tmp: Path) -> Path:
    path = tmp / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "hello")
    return path


def _docx_without_table(tmp: Path) -> Path:
    from docx import Document

    document = Document()
    document.add_paragraph("项目支出绩效自评报告")
    path = tmp / "report.docx"
    document.save(str(path))
    return path


def _pdf_without_table(tmp: Path) -> Path:
    import weasyprint

    path = tmp / "scan.pdf"
    path.write_bytes(weasyprint.HTML(string="<p>项目支出绩效自评报告：总分 95 分</p>").write_pdf())
    return path


PIPED = "\n".join("|".join(r) for r in rows_of(SIMPLE_FORM))
MARKDOWN = "\n".join(
    "| " + " | ".join(r) + " |" + ("\n|" + "---|" * len(r) if i == 9 else "")
    for i, r in enumerate(rows_of(SIMPLE_FORM.strip()))
)
TRUNCATED = SIMPLE_FORM.split("\t效益指标")[0]
HUNDRED_TEN = sub("\t满意度\t≥90%\t95%\t10\t10\t", "\t满意度\t≥90%\t95%\t20\t20\t")
FORTY_DIGITS = sub("\t满意度\t≥90%\t95%\t10\t10\t", "\t满意度\t≥90%\t95%\t" + "9" * 40 + "\t10\t")
NO_ACTUALS = "\n".join(
    "\t".join(c if i != 5 or n < 10 or n > 12 else "" for i, c in enumerate(r))
    for n, r in enumerate(rows_of(SIMPLE_FORM))
)

# (id, writer, expectation): a refusal needle (str starting with "!"), or a check.
CASES: list[tuple[str, Write, str | Callable[[list[FormCheck]], None]]] = []


def case(name: str, write: Write, expect: str | Callable[[list[FormCheck]], None]) -> None:
    CASES.append((name, write, expect))


def flagged(
    code: str, blocking: bool | None = None, form: int = 0
) -> Callable[[list[FormCheck]], None]:
    def check(forms: list[FormCheck]) -> None:
        flags = [*forms[form].flags, *(f for fs in forms[form].row_flags.values() for f in fs)]
        hits = [f for f in flags if f.code == code]
        assert hits, [f.code for f in flags]
        if blocking is not None:
            assert hits[0].blocking is blocking
            assert forms[form].blocking or not blocking

    return check


def _two_forms(forms: list[FormCheck]) -> None:
    assert len(forms) == 2 and [f.card.total for f in forms] == [D("89.00"), D("89.00")]


def _truncated_then_second(forms: list[FormCheck]) -> None:
    first, second = forms
    assert first.result.incomplete and first.grade is None
    assert [r.code for r in first.card.rows] == ["budget_execution", "quantity_1"]
    assert not second.result.incomplete and second.card.total == D("89.00") and second.grade == "良"


def _same_as_tabs(forms: list[FormCheck]) -> None:
    (form,) = forms
    assert form.card.total == D("89.00") and form.grade == "良" and not form.blocking


def _budget_kept(forms: list[FormCheck]) -> None:
    (form,) = forms
    assert form.card.row("budget_execution").score == D("9.00")
    assert form.card.total == D("89.00") and form.grade == "良"


def _forty_digits(forms: list[FormCheck]) -> None:
    (form,) = forms
    assert any("数值过大" in p.message for p in form.result.problems)
    assert any(f.code == "weights_mismatch" and f.blocking for f in form.flags)


def _incomplete(forms: list[FormCheck]) -> None:
    assert forms[0].result.incomplete and forms[0].grade is None and forms[0].blocking


def _na_zero_budget(forms: list[FormCheck]) -> None:
    row = forms[0].card.row("budget_execution")
    assert not row.applicable and row.score is None
    assert "printed_rate_mismatch" not in [f.code for f in forms[0].row_flags["budget_execution"]]


case("weights_add_to_110", text(HUNDRED_TEN), flagged("weights_mismatch", True))
case(
    "declared_total_110",
    text(HUNDRED_TEN.replace("\t100\t89\t", "\t110\t99\t")),
    flagged("total_not_100", True),
)
case(
    "note_above_the_table",
    text(sub("项目资金（万元）", "注：金额单位为万元\n项目资金（万元）")),
    _budget_kept,
)
case(
    "tabbed_note_above_the_table",
    text(sub("项目资金（万元）", "说明\t本表由项目单位填写\t\n项目资金（万元）")),
    _budget_kept,
)
case("note_line_above_the_title", text("内部资料，注意保存\n\n" + SIMPLE_FORM), _budget_kept)
case("two_forms", text(SIMPLE_FORM + "\n" + SIMPLE_FORM), _two_forms)
case("truncated_form_then_a_second", text(TRUNCATED + "\n" + SIMPLE_FORM), _truncated_then_second)
case("pipe_separated_copy", text(PIPED), _same_as_tabs)
case("markdown_table_copy", text(MARKDOWN), _same_as_tabs)
case("forty_digit_weight", text(FORTY_DIGITS), _forty_digits)
case("utf16_with_bom", text(SIMPLE_FORM, encoding="utf-16"), _same_as_tabs)
case("utf16_without_bom", text(SIMPLE_FORM, encoding="utf-16-le"), _same_as_tabs)
case("gbk", text(SIMPLE_FORM, encoding="gbk"), _same_as_tabs)
case("empty_sheet", _empty_xlsx, "!工作表都是空的")
case("empty_file", raw(b"", "empty.txt"), "!没有找到指标表")
case("titles_only", text("项目支出绩效自评表\n（2023年度）\n项目名称：测试\n"), "!没有找到指标表")
case("spaces_not_tabs", text(SIMPLE_FORM.replace("\t", "  ")), "!制表符")
case("pdf_without_table", _pdf_without_table, "!没有找到表格")
case("corrupt_xlsx", raw(b"PK\x03\x04" + b"\x00garbage" * 20, "broken.xlsx"), "!损坏")
case("zip_of_other_files", _zip, "!不是 Excel、Word 或 ODS")
case("png_image", raw(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "form.png"), "!图片")
case("docx_without_table", _docx_without_table, "!没有表格")
case("old_word_doc", raw(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "form.doc"), "!.doc")
case("binary_garbage", raw(b"\x00\x01\x02\x03binary\x00\x07", "x.bin"), "!二进制")
case(
    "score_above_weight",
    text(sub("\t50\t40\t报名不足", "\t50\t60\t报名不足").replace("\t100\t89\t", "\t100\t109\t")),
    flagged("published_above_weight", True),
)
case(
    "printed_total_not_the_rows",
    text(sub("\t100\t89\t", "\t100\t95\t")),
    flagged("printed_total_mismatch", False),
)
case(
    "printed_rate_off_by_a_hundredth",
    text(sub("\t10\t90%\t9", "\t10\t90.01%\t9")),
    flagged("printed_rate_mismatch", False),
)
case(
    "zero_over_zero_budget",
    text(sub("\t年度资金总额\t100\t100\t90\t10\t90%\t9", "\t年度资金总额\t0\t0\t0\t10\t0.00%\t")),
    _na_zero_budget,
)
case(
    "deduction_although_met",
    text(sub("\t满意度\t≥90%\t95%\t10\t10\t", "\t满意度\t≥90%\t95%\t10\t9\t")),
    flagged("published_deduction_when_met", False),
)
case("unfilled_template", text(NO_ACTUALS), _incomplete)
case(
    "one_row_without_actual",
    text(sub("\t受益人数\t≥50人\t50人\t30\t30\t", "\t受益人数\t≥50人\t\t30\t30\t")),
    _incomplete,
)
case("cut_before_total", text(SIMPLE_FORM.split("总分")[0]), flagged("form_incomplete", True))
case("header_without_weight_or_score", text(sub("\t分值\t得分\t", "\t备用\t说明\t")), "!表头不完整")
case("no_weights_and_no_block_totals", text(sub("\t分值\t得分\t", "\t说明\t得分\t")), "!没有分值")
case(
    "block_label_not_matching",
    text(sub("\t产出指标\t数量指标", "\t产出指标(40分)\t数量指标")),
    flagged("weights_mismatch", True),
)
case(
    "negative_weight",
    text(sub("\t满意度\t≥90%\t95%\t10\t10\t", "\t满意度\t≥90%\t95%\t-10\t10\t")),
    flagged("weights_mismatch", True),
)
case(
    "missed_deadline",
    text(
        sub(
            "\t培训人次\t≥100人次\t80人次\t50\t40\t报名不足",
            "\t完成时间\t2023年6月30日前\t2023年9月1日\t50\t50\t",
        )
    ),
    flagged("published_above_formula", False),
)
case("csv_with_quotes", lambda tmp: _csv(tmp), _same_as_tabs)
case(
    "xlsx_typed_numbers",
    lambda tmp: write_xlsx(rows_of(SIMPLE_FORM), tmp / "f.xlsx"),
    _same_as_tabs,
)
case(
    "docx_two_forms",
    lambda tmp: write_docx(rows_of(SIMPLE_FORM + "\n" + SIMPLE_FORM), tmp / "f.docx"),
    _two_forms,
)
case("pdf_table", lambda tmp: write_pdf(rows_of(SIMPLE_FORM), tmp / "f.pdf"), _same_as_tabs)


def _csv(tmp: Path) -> Path:
    import csv

    path = tmp / "form.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL).writerows(rows_of(SIMPLE_FORM))
    return path


def test_thirty_cases_at_least() -> None:
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "write", "expect"), CASES, ids=[c[0] for c in CASES])
def test_adversarial(
    name: str, write: Write, expect: str | Callable[[list[FormCheck]], None], tmp_path: Path
) -> None:
    path = write(tmp_path)
    if isinstance(expect, str):
        with pytest.raises(FormReadError) as info:
            import_forms(path)
        assert expect[1:] in info.value.message, info.value.message
        return
    expect([check_form(r) for r in import_forms(path)])


@pytest.mark.parametrize("name", ["empty_sheet", "corrupt_xlsx", "spaces_not_tabs", "old_word_doc"])
def test_refusals_from_the_command_line(name: str, tmp_path: Path) -> None:
    write, expect = next((w, e) for n, w, e in CASES if n == name)
    assert isinstance(expect, str)
    done = subprocess.run(
        [sys.executable, "-m", "scoring", "check", str(write(tmp_path)), "--json"],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert expect[1:] in done.stderr and "Traceback" not in done.stderr
