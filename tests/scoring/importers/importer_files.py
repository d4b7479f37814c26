"""Write one form (rows of cell strings) as every file type users have, inside the tests.

.xlsx with openpyxl (numbers as numbers, rates as percent-formatted numbers, as Excel saves
them), .xls with xlwt, .ods with odfpy, .docx with python-docx (title paragraphs above the
table), PDF from a WeasyPrint HTML table, and text in several encodings.  Imported by name
(this folder is on sys.path when its tests run).
"""

from __future__ import annotations

import html
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORMS = ROOT / ".." / "shared" / "forms"

Rows = list[list[str]]

# A complete central-style form: 9 + 40 + 30 + 10 = 89 (良), every published row as computed.
SIMPLE_FORM = """项目支出绩效自评表
（2023年度）
项目名称\t测试项目
主管部门\t某局\t实施单位\t某中心
项目资金（万元）\t\t年初预算数\t全年预算数\t全年执行数\t分值\t执行率\t得分
\t年度资金总额\t100\t100\t90\t10\t90%\t9
\t其中：当年财政拨款\t100\t100\t90\t—\t\t
年度总体目标\t预期目标\t实际完成情况
\t完成任务\t已完成
绩效指标\t一级指标\t二级指标\t三级指标\t年度指标值\t实际完成值\t分值\t得分\t偏差原因分析及改进措施
\t产出指标\t数量指标\t培训人次\t≥100人次\t80人次\t50\t40\t报名不足
\t效益指标\t社会效益指标\t受益人数\t≥50人\t50人\t30\t30\t
\t满意度指标\t服务对象满意度指标\t满意度\t≥90%\t95%\t10\t10\t
总分\t\t\t\t\t\t100\t89\t
"""


def rows_of(text: str) -> Rows:
    return [line.split("\t") for line in text.split("\n")]


def tsv(rows: Rows) -> str:
    return "\n".join("\t".join(r) for r in rows) + "\n"


def _typed(text: str) -> tuple[object, str]:
    """A cell as a spreadsheet holds it: (value, number format)."""
    plain = text.replace(",", "")
    try:
        if plain.endswith("%") and plain[:-1]:
            number = Decimal(plain[:-1])
            places = len(plain[:-1].partition(".")[2])
            return float(number / 100), "0" + ("." + "0" * places if places else "") + "%"
        number = Decimal(plain)
    except InvalidOperation:
        return text, ""
    if not plain or plain.startswith(("+", "-")) or not plain[0].isdigit():
        return text, ""
    if number == number.to_integral_value() and "." not in plain:
        return int(number), ""
    return float(number), ""


def write_xlsx(rows: Rows, path: Path, typed: bool = True) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for r, row in enumerate(rows, start=1):
        for c, text in enumerate(row, start=1):
            if not text:
                continue
            value, number_format = _typed(text) if typed else (text, "")
            cell = sheet.cell(row=r, column=c, value=value)
            if number_format:
                cell.number_format = number_format
    book.save(path)
    return path


def write_xls(rows: Rows, path: Path) -> Path:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("自评表")
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if text:
                # Text cells: python-calamine reads .xls number formats without their percent
                # sign, and real .xls exports of these forms are text-typed.
                sheet.write(r, c, text)
    book.save(str(path))
    return path


def write_ods(rows: Rows, path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="自评表")
    for row in rows:
        tr = TableRow()
        for text in row:
            cell = TableCell(valuetype="string") if text else TableCell()
            if text:
                cell.addElement(P(text=text))
            tr.addElement(cell)
        table.addElement(tr)
    document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def write_docx(rows: Rows, path: Path) -> Path:
    """Lines of one cell above the table become paragraphs, as in a Word form."""
    from docx import Document

    document = Document()
    lead = 0
    while lead < len(rows) and sum(1 for c in rows[lead] if c) <= 1:
        if rows[lead] and rows[lead][0]:
            document.add_paragraph(rows[lead][0])
        lead += 1
    body = rows[lead:]
    width = max(len(r) for r in body)
    table = document.add_table(rows=len(body), cols=width)
    for r, row in enumerate(body):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.save(str(path))
    return path


def write_pdf(rows: Rows, path: Path) -> Path:
    """A WeasyPrint HTML table with ruled cells, the title lines above it."""
    import weasyprint

    lead = 0
    paras = []
    while lead < len(rows) and sum(1 for c in rows[lead] if c) <= 1:
        if rows[lead] and rows[lead][0]:
            paras.append(f"<p>{html.escape(rows[lead][0])}</p>")
        lead += 1
    body = rows[lead:]
    width = max(len(r) for r in body)
    trs = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(c)}</td>" for c in [*r, *[""] * (width - len(r))])
        + "</tr>"
        for r in body
    )
    page = (
        "<html><head><style>@page{size:A4 landscape;margin:1cm}"
        "body{font-size:8pt}table{border-collapse:collapse}"
        "td{border:1px solid #000;padding:2px;min-width:1em;height:1.2em}</style></head>"
        f"<body>{''.join(paras)}<table>{trs}</table></body></html>"
    )
    path.write_bytes(weasyprint.HTML(string=page).write_pdf())
    return path
