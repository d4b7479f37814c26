"""What an import gives back: the result of one form, its problems, and the read error."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..model import Scheme

__all__ = ["FormReadError", "ImportResult", "Problem"]


class FormReadError(Exception):
    """The input cannot be read as a form; ``message`` is one clear Chinese sentence."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the importer noticed, at a 1-based line number of the input."""

    row: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "message": self.message}


@dataclass(frozen=True)
class ImportResult:
    """One form read from a file.

    ``published`` holds every row's printed score (budget row included) for the comparison
    with the recomputed one (:mod:`scoring.importers.compare`); ``entries`` hold only what
    the rules score from.  ``incomplete`` forms (cut off before the 总分, rows without actual
    values, an unfilled template) are reported, never graded; ``incomplete_reasons`` says why.
    """

    layout: str
    scheme: Scheme
    entries: dict[str, dict[str, Any]]
    published: dict[str, str]
    published_total: str | None
    published_grade: str | None
    header: dict[str, str]
    narratives: dict[str, str]
    cells: list[list[str]]
    problems: list[Problem] = field(default_factory=list)
    # code -> 1-based line number of the row it came from (for messages and the CLI).
    source_rows: dict[str, int] = field(default_factory=dict)
    incomplete: bool = False
    incomplete_reasons: list[str] = field(default_factory=list)
    # The 总分 / 合计 row's 分值 (None when not printed: then the total is 100).
    declared_total: Decimal | None = None
    # Weights taken from block totals ("年度绩效目标1(40分)") because the form has no 分值 column:
    # code -> weight.  Empty when the form prints its weights.
    inferred_weights: dict[str, Decimal] = field(default_factory=dict)
    # Printed block labels that the rows under them do not add up to: (label, printed, sum).
    block_mismatches: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    # What the file was (txt, xlsx, xls, ods, docx, pdf) and which form of it this is.
    source_kind: str = "txt"
    form_index: int = 0
    form_count: int = 1
