"""The files of a bulk import: paths, folders and ZIP archives of forms, as (name, bytes).

An .xlsx, .docx or .ods is itself a ZIP: an archive counts as a bundle of forms only when
it is not an Office or OpenDocument file. Names inside a ZIP written by Chinese Windows
are GBK without the UTF-8 flag; they are decoded as such. Limits keep a hostile archive
(a ZIP bomb, a million members) from filling memory.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# What a bulk import accepts as a form (scoring.importers reads them all).
FORM_SUFFIXES = frozenset(
    {".txt", ".tsv", ".csv", ".xlsx", ".xlsm", ".xls", ".ods", ".docx", ".pdf"}
)
MAX_MEMBERS = 5000
MAX_MEMBER_BYTES = 30 * 1024 * 1024
MAX_TOTAL_BYTES = 500 * 1024 * 1024
_UTF8_FLAG = 0x800


class SourceError(Exception):
    """A bundle that cannot be taken apart (a damaged or oversized ZIP): a Chinese message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SourceFile:
    name: str
    data: bytes


def is_form_bundle(name: str, data: bytes) -> bool:
    """A ZIP of forms (not an .xlsx/.docx/.ods, which are ZIPs too)."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    if Path(name).suffix.lower() in FORM_SUFFIXES - {".txt", ".tsv", ".csv", ".pdf"}:
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return Path(name).suffix.lower() == ".zip"
    return not ({"[Content_Types].xml", "mimetype"} & names)


def _member_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _skipped(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or name.endswith("/")


def expand_zip(name: str, data: bytes) -> Iterator[SourceFile]:
    """The forms inside a ZIP (nested ZIPs too), named ``archive.zip/folder/form.xlsx``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{name} 不是有效的 ZIP 压缩包，无法解开：{exc}") from None
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise SourceError(f"{name} 含 {len(members)} 个文件，超过上限 {MAX_MEMBERS}")
        total = 0
        for info in members:
            inner = _member_name(info)
            if _skipped(inner):
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                raise SourceError(f"{name} 中的 {inner} 解压后超过 {MAX_MEMBER_BYTES // 2**20} MB")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise SourceError(f"{name} 解压后超过 {MAX_TOTAL_BYTES // 2**20} MB")
            try:
                content = archive.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise SourceError(f"{name} 中的 {inner} 无法解压：{exc}") from None
            full = f"{name}/{inner}"
            if is_form_bundle(inner, content):
                yield from expand_zip(full, content)
            else:
                yield SourceFile(full, content)


def expand_upload(name: str, data: bytes) -> list[SourceFile]:
    """One uploaded file: itself, or the forms of a ZIP of forms."""
    if is_form_bundle(name, data):
        return list(expand_zip(name, data))
    return [SourceFile(name, data)]


def _folder(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not _skipped(relative):
            suffix = path.suffix.lower()
            if suffix in FORM_SUFFIXES or suffix == ".zip":
                yield path


def expand_paths(paths: Iterable[Path]) -> list[SourceFile]:
    """Files as given, folders (recursively: the form files and ZIPs in them), ZIPs opened."""
    found: list[SourceFile] = []
    for path in paths:
        files = list(_folder(path)) if path.is_dir() else [path]
        for file in files:
            name = file.relative_to(path.parent).as_posix() if path.is_dir() else file.name
            found.extend(expand_upload(name, file.read_bytes()))
    return found
