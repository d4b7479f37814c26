"""File types: sniff what a file is and read it into sheets of rows of cell strings.

Text (.txt/.tsv/.csv, UTF-8 with or without BOM, GB18030/GBK, UTF-16 with BOM as Excel's
"Unicode 文本" saves it; tab-, comma- or ``|``-separated), .xlsx/.xlsm (openpyxl, which keeps
the number formats: a cell shown as 86.19% is read as "86.19%", not 0.8619), .xls/.ods
(python-calamine), .docx tables (python-docx) and PDF tables (pdfplumber).  Anything else
gets one Chinese sentence saying what was found and what is needed.  Cell text is returned as
shown; merged cells keep their text in the first cell only, the rows below inherit labels.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .base import FormReadError
from .cells import coordinate

__all__ = ["Book", "Sheet", "decode_bytes", "read_book", "read_text", "read_workbook", "split_text"]

_MAX_BYTES = 20 * 1024 * 1024
_IMAGES = {b"\x89PNG": "PNG 图片", b"\xff\xd8\xff": "JPEG 图片", b"GIF8": "GIF 图片"}
_TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
_NEED = "请提供 .xlsx/.xls/.ods/.docx/PDF 表格，或制表符分隔的文本（.txt/.tsv）"


@dataclass(frozen=True)
class Book:
    """A file read as sheets (a workbook's sheets; one sheet for text, Word and PDF)."""

    kind: str
    sheets: list[list[list[str]]]


def read_text(source: str | Path) -> str:
    """The text of a text form given as a path or as the text itself; FormReadError otherwise."""
    if isinstance(source, str) and ("\n" in source or "\t" in source):
        return source
    path = Path(source)
    return decode_bytes(_read_bytes(path), path.name)


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormReadError(f"找不到文件：{path}") from None
    except IsADirectoryError:
        raise FormReadError(f"{path} 是目录，不是表格文件") from None
    except OSError as exc:
        raise FormReadError(f"无法读取文件 {path}：{exc.strerror or exc}") from None
    if len(data) > _MAX_BYTES:
        raise FormReadError(f"{path.name} 超过 20 MB，不像是一张自评表")
    return data


def _plausible(text: str) -> bool:
    """Most characters are what a Chinese form holds (a wrong UTF-16 guess gives symbols)."""
    sample = text[:4000]
    if not sample:
        return True
    good = sum(
        1
        for ch in sample
        if ch.isascii()
        or "\u4e00" <= ch <= "\u9fff"
        or "\u3000" <= ch <= "\u303f"
        or "\uff00" <= ch <= "\uffef"
        or "\u2000" <= ch <= "\u2bff"
        or "\ufe10" <= ch <= "\ufe6f"
        or ch in "\u00b7\u00d7\u00f7"
    )
    return good >= 0.9 * len(sample)


def decode_bytes(data: bytes, name: str = "文件") -> str:
    """Text of a text file: UTF-16 (BOM), UTF-8 (± BOM) or GB18030; FormReadError otherwise."""
    if len(data) > _MAX_BYTES:
        raise FormReadError(f"{name} 超过 20 MB，不像是一张自评表")
    for magic, kind in _IMAGES.items():
        if data.startswith(magic):
            raise FormReadError(f"{name} 是{kind}，不是表格；{_NEED}")
    if data.startswith(b"%PDF"):
        raise FormReadError(f"{name} 是 PDF 文件，请按文件导入（不要作为文本粘贴）")
    if data.startswith(b"PK\x03\x04"):
        raise FormReadError(f"{name} 是 Excel/Word（zip）文件，请按文件导入")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = ""
        if text and _plausible(text):
            return text.lstrip("\ufeff")
    if b"\x00" in data:
        guessed = _utf16_without_bom(data)
        if guessed is not None:
            return guessed
        raise FormReadError(f"{name} 是二进制文件，不是制表符分隔的文本；{_NEED}")
    for encoding in _TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
        if controls > max(3, len(text) // 200):
            raise FormReadError(f"{name} 含有大量控制字符，不是文本文件")
        return text
    raise FormReadError(
        f"{name} 的文字编码无法识别（已尝试 UTF-16、UTF-8 和 GB18030）；请另存为 UTF-8 文本"
    )


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a BOM: the zero bytes of tabs, digits and newlines give it away."""
    if len(data) % 2:
        return None
    for encoding, zeros in (("utf-16-le", data[1::2]), ("utf-16-be", data[0::2])):
        if zeros.count(0) * 8 < len(data):
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _plausible(text) and ("\t" in text or "\n" in text):
            return text
    return None


def split_text(text: str, csv_file: bool = False) -> list[list[str]]:
    """Rows of a text table: tab-separated, else comma- (a .csv) or ``|``-separated."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if any("\t" in line for line in lines):
        return [line.split("\t") for line in lines]
    if csv_file:
        return list(csv.reader(lines))
    filled = [line for line in lines if line.strip()]
    piped = [line for line in filled if line.count("|") >= 2]
    if filled and len(piped) * 2 >= len(filled):
        # A Markdown-style copy starts and ends every line with "|"; a plain copy does not
        # (there a leading "|" is an empty first cell).
        markdown = all(line.strip()[:1] == "|" == line.strip()[-1:] for line in piped)
        rows = []
        for line in lines:
            cells = line.strip().split("|") if markdown else line.split("|")
            if markdown and len(cells) >= 2:
                cells = cells[1:-1]
            # Markdown separator rows "|---|---|" carry nothing.
            if cells and all(set(c.strip()) <= set("-: ") for c in cells) and "-" in line:
                continue
            rows.append(cells)
        return rows
    return [[line] for line in lines]


def read_book(source: str | Path, data: bytes | None = None) -> Book:
    """Read a form file (or the text of a text form) into sheets of rows of strings.  With
    ``data``, those are the file's bytes and ``source`` only names it (its suffix counts)."""
    if data is None and isinstance(source, str) and ("\n" in source or "\t" in source):
        return Book("txt", [split_text(source)])
    path = Path(source)
    if data is None:
        data = _read_bytes(path)
    elif len(data) > _MAX_BYTES:
        raise FormReadError(f"{path.name} 超过 20 MB，不像是一张自评表")
    name = path.name
    suffix = path.suffix.lower()
    if data.startswith(b"PK\x03\x04"):
        return _read_zip(data, name)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return _spreadsheet(data, name, "xls", "旧版 Excel（.xls）")
    if data.startswith(b"%PDF"):
        return Book("pdf", [_read_pdf(data, name)])
    text = decode_bytes(data, name)
    return Book("csv" if suffix == ".csv" else "txt", [split_text(text, suffix == ".csv")])


def _read_zip(data: bytes, name: str) -> Book:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = (
                archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
            )
    except (zipfile.BadZipFile, OSError, KeyError):
        raise FormReadError(
            f"{name} 是损坏的 zip（Excel/Word）文件，无法打开；请重新导出"
        ) from None
    if "word/document.xml" in names:
        return Book("docx", [_read_docx(data, name)])
    if "xl/workbook.xml" in names:
        return Book("xlsx", _read_xlsx(data, name))
    if "spreadsheet" in mimetype:
        return _spreadsheet(data, name, "ods", "OpenDocument 表格（.ods）")
    if "opendocument.text" in mimetype:
        raise FormReadError(f"{name} 是 OpenDocument 文字文件（.odt），请另存为 .docx 再导入")
    raise FormReadError(f"{name} 是 zip 压缩包，但里面不是 Excel、Word 或 ODS 表格；{_NEED}")


def _cell_text(value: Any, number_format: str = "", exact: bool = False) -> str:
    """A cell value as the form shows it; with ``exact``, a number to its last stored place
    (a percent cell typed 95.5% and formatted "0%" gives 95.5%, not the 96% it shows)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            return str(value)
        if "%" in number_format:
            if exact:
                return _plain(number * 100) + "%"
            places = 0
            if "." in number_format:
                places = len(number_format.split(".")[1].split("%")[0].rstrip("_)"))
            return f"{number * 100:.{places}f}%"
        return _plain(number)
    return str(value)


def _plain(number: Decimal) -> str:
    """10 not 1E+1, 2.5 not 2.50."""
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


@dataclass(frozen=True)
class Sheet:
    """One worksheet read as text: its name, whether Excel shows it, and its cells by
    position (``rows[r - 1][c - 1]`` holds row r, column c; rows may be ragged)."""

    name: str
    state: str  # "visible", "hidden", or "veryHidden" (only a program can show it again)
    rows: list[list[str]]
    # The sheet goes on past the ``max_rows`` it was read with (rows there were not read; a
    # caller that reads every row says so rather than drop them silently).
    more: bool = False

    def cell(self, ref: str) -> str:
        """The text of the cell at ``ref`` ("F12"); "" outside what the sheet holds."""
        row, column = coordinate(ref)
        if row > len(self.rows):
            return ""
        cells = self.rows[row - 1]
        return cells[column - 1] if column <= len(cells) else ""


def read_workbook(
    data: bytes,
    name: str = "文件",
    *,
    exact: bool = False,
    max_rows: int | None = None,
    max_columns: int | None = None,
) -> list[Sheet]:
    """Every sheet of an .xlsx/.xlsm file, hidden ones included, in workbook order, each cell
    as text (see :func:`_cell_text`; ``exact`` for a form typed in rather than printed).
    ``max_rows`` stops each sheet there (a caller that knows its layout need not hold an
    oversized sheet in memory; :attr:`Sheet.more` says whether it went on) and ``max_columns``
    leaves out the columns to the right. How far a sheet goes is taken from its cells, never
    from the size the file declares (a writer that declares "A1" or a stale range would
    otherwise lose the cells outside it). FormReadError, in Chinese, when the file cannot be
    opened."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any library failure is "cannot open", said in Chinese
        raise FormReadError(
            f"{name} 看起来是 Excel（.xlsx）文件，但无法打开（{type(exc).__name__}）；请确认文件完整"
        ) from None
    sheets = []
    # One row past the limit: the reader pads up to it when any row lies further down.
    last = None if max_rows is None else max_rows + 1
    try:
        for sheet in book.worksheets:
            sheet.reset_dimensions()
            rows = [
                [_text_of(c, exact) for c in row]
                for row in sheet.iter_rows(max_row=last, max_col=max_columns)
            ]
            more = max_rows is not None and len(rows) > max_rows
            state = str(sheet.sheet_state or "visible")
            sheets.append(Sheet(sheet.title, state, rows[:max_rows] if more else rows, more))
    except Exception as exc:  # noqa: BLE001 - a damaged sheet inside a readable archive
        raise FormReadError(
            f"{name} 是 Excel（.xlsx）文件，但其中的工作表已损坏（{type(exc).__name__}）；请确认文件完整"
        ) from None
    finally:
        book.close()
    return sheets


def _text_of(cell: Any, exact: bool) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return value  # most cells: no need to look up the number format
    return _cell_text(value, getattr(cell, "number_format", "") or "", exact)


def _read_xlsx(data: bytes, name: str) -> list[list[list[str]]]:
    return _non_empty([sheet.rows for sheet in read_workbook(data, name)], name)


def _spreadsheet(data: bytes, name: str, kind: str, label: str) -> Book:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [
            [[_cell_text(v) for v in row] for row in book.get_sheet_by_name(sheet).to_python()]
            for sheet in book.sheet_names
        ]
    except Exception as exc:  # noqa: BLE001 - the library's own errors, said in Chinese
        if kind == "xls":
            raise FormReadError(
                f"{name} 是旧版 Office 文件，但不是可读的 Excel 工作簿（{type(exc).__name__}）；"
                "旧版 Word（.doc）请另存为 .docx，Excel 请另存为 .xlsx"
            ) from None
        raise FormReadError(f"{name} 看起来是{label}，但无法打开（{type(exc).__name__}）") from None
    return Book(kind, _non_empty(sheets, name))


def _non_empty(sheets: list[list[list[str]]], name: str) -> list[list[list[str]]]:
    kept = [rows for rows in sheets if any(any(c.strip() for c in row) for row in rows)]
    if not kept:
        raise FormReadError(f"{name} 的工作表都是空的，没有可读取的表格")
    return kept


def _read_docx(data: bytes, name: str) -> list[list[str]]:
    """Paragraphs and tables in document order; a merged cell keeps its text once."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        raise FormReadError(
            f"{name} 看起来是 Word（.docx）文件，但无法打开（{type(exc).__name__}）"
        ) from None
    rows: list[list[str]] = []
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = Paragraph(block, document).text.strip()
            if text:
                rows.append([text])
        elif tag == "tbl":
            rows.extend(_docx_table(Table(block, document)))
            rows.append([])
    if not any(len(r) > 1 for r in rows):
        raise FormReadError(f"{name} 是 Word 文件，但其中没有表格；自评表须是 Word 表格")
    return rows


def _docx_table(table: Any) -> Iterator[list[str]]:
    above: list[Any] = []
    for row in table.rows:
        cells = list(row.cells)
        out = []
        for index, cell in enumerate(cells):
            repeat = (index > 0 and cells[index - 1]._tc is cell._tc) or (
                index < len(above) and above[index] is cell._tc
            )
            out.append("" if repeat else cell.text.strip())
        above = [c._tc for c in cells]
        yield out


def _read_pdf(data: bytes, name: str) -> list[list[str]]:
    import pdfplumber

    rows: list[list[str]] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                tables = page.find_tables()
                boxes = [t.bbox for t in tables]

                def outside(obj: dict[str, Any], boxes: list[Any] = boxes) -> bool:
                    return not any(
                        b[0] <= obj.get("x0", 0) <= b[2] and b[1] <= obj.get("top", 0) <= b[3]
                        for b in boxes
                    )

                top = tables[0].bbox[1] if tables else page.height
                above = page.crop((0, 0, page.width, top)) if top > 0 else None
                if above is not None:
                    text = above.filter(outside).extract_text() or ""
                    rows.extend([line.strip()] for line in text.splitlines() if line.strip())
                for table in tables:
                    for cells in table.extract():
                        rows.append([(c or "").replace("\n", "").strip() for c in cells])
    except FormReadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise FormReadError(f"{name} 是 PDF 文件，但无法打开（{type(exc).__name__}）") from None
    if not any(len(r) > 1 for r in rows):
        raise FormReadError(
            f"{name} 是 PDF 文件，但没有找到表格线框成的表格（可能是扫描图片）；"
            "请提供原始的 Excel/Word 文件"
        )
    return rows
