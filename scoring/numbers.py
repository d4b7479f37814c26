"""Decimal arithmetic, number parsing and formatting shared by the engine and the importers.

Every score and amount is a :class:`~decimal.Decimal`.  All arithmetic goes through the
module-level context :data:`CTX` instead of the caller's current context (its methods, or
operators inside ``localcontext(CTX)`` as the engine's scoring loop does), so a caller that
changed ``decimal.getcontext()`` (a web request, a test) cannot change a score.
Rounding is ROUND_HALF_UP to 2 places per row, as the published forms do.
"""

from __future__ import annotations

import functools
import re
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

__all__ = [
    "CTX",
    "HUNDRED",
    "ONE",
    "Q2",
    "ZERO",
    "InputError",
    "fmt",
    "fmt2",
    "fmt_pct",
    "normalize_text",
    "parse_decimal",
    "parse_quantity",
    "plain_decimal",
    "q2",
    "top_below",
]

CTX = Context(prec=28, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
Q2 = Decimal("0.01")

# Full-width digits and punctuation come from Chinese input methods; map them once.
_FULLWIDTH = str.maketrans(
    "０１２３４５６７８９．，－＋％＝＞＜　",
    "0123456789.,-+%=>< ",
)
# Exponents this large never come from a form; they would only let a typo blow up arithmetic.
_MAX_ADJUSTED_EXPONENT = 15

# A number possibly preceded by a comparison sign and followed by a unit: "≥90%", "≤90万元",
# "1 (个)", "1,234.5元".  Compiled once: this sits on the hot path of import and scoring.
_QUANTITY = re.compile(
    r"^\s*(?P<op>>=|<=|≥|≤|=|>|<)?\s*"
    r"(?P<num>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+)"
    r"\s*(?P<unit>.*?)\s*$"
)
# The common shapes, matched without the full pattern or the full-width translation:
# a plain number ("1234.5", "1,234.5") and a plain number followed by a unit ("95.12%",
# "1,000人次", "87.23万元").  [0-9] rather than \d, and the unit holds no digit, dot, comma,
# space or full-width character, so these split a text exactly as _QUANTITY does.
_PLAIN_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_PLAIN_QUANTITY = re.compile(
    r"((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?)([^\s\d.,．，－＋％＝＞＜]*)"
)
_OPS = {">=": ">=", "≥": ">=", "<=": "<=", "≤": "<=", "=": "=", ">": ">", "<": "<"}
_UNIT_BRACKETS = "()（）[]【】 "
_UNIT_ALIASES = {"百分比": "%", "百分点": "%", "％": "%"}


class InputError(ValueError):
    """A value typed by a person that is not an acceptable number; the message is Chinese."""


def q2(value: Decimal) -> Decimal:
    """Round to 2 places, half up: the one rounding rule for every row score and total."""
    return value.quantize(Q2, ROUND_HALF_UP, CTX)  # positional: keywords cost 3x the call


def top_below(bound: Decimal) -> Decimal:
    """The largest 2-place number strictly below ``bound`` (top of a half-open band)."""
    return CTX.subtract(bound.quantize(Q2, ROUND_CEILING, CTX), Q2)


def normalize_text(text: str) -> str:
    """Full-width digits/signs to ASCII, trimmed; keeps everything else."""
    return text.translate(_FULLWIDTH).strip()


def _to_decimal(text: str) -> Decimal | None:
    try:
        value = CTX.create_decimal(text)
    except (ArithmeticError, ValueError):  # InvalidOperation, Overflow ("1e999999999"), ...
        return None
    if not value.is_finite():
        return None
    return value


def parse_decimal(
    text: str, *, allow_negative: bool = False, allow_percent: bool = False
) -> Decimal:
    """Parse a number as a person types it: "1,234.5", "１２３．５", " 98 ".

    With ``allow_percent`` a trailing "%" is accepted and dropped (98% -> 98; the caller knows
    it is a percentage).  Raises :class:`InputError` with a Chinese message otherwise.
    """
    if text.__class__ is str:
        value = plain_decimal(text)
        if value is not None:
            return value
    if text is None:
        raise InputError("请填写数值")
    raw = str(text)
    cleaned = normalize_text(raw)
    if not cleaned:
        raise InputError("请填写数值")
    if allow_percent and cleaned.endswith("%"):
        cleaned = cleaned[:-1].rstrip()
    lowered = cleaned.lower()
    if "nan" in lowered or "inf" in lowered:
        raise InputError(f"“{raw}”不是有效数值")
    # Thousands separators: only accept well-formed groups, so "1,2" is not silently 12.
    if "," in cleaned:
        match = _QUANTITY.match(cleaned)
        if match is None or match.group("op") or match.group("unit"):
            raise InputError(f"“{raw}”不是有效数值")
        cleaned = match.group("num").replace(",", "")
    cleaned = cleaned.replace(" ", "")
    value = _to_decimal(cleaned)
    if value is None:
        raise InputError(f"“{raw}”不是有效数值")
    if value.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise InputError(f"“{raw}”数值过大")
    if value < 0 and not allow_negative:
        raise InputError(f"“{raw}”不能为负数")
    if value == 0:
        value = ZERO  # drops "-0" and "0E+3" spellings so results compare and print alike
    return value


def plain_decimal(text: str) -> Decimal | None:
    """:func:`parse_decimal` of a plain amount ("1234.5", "1,234.5", "0"), else None.

    The fast path of parsing: ASCII digits with at most one dot, or well-formed thousands
    groups; anything else (signs, spaces, full-width digits, percentages, errors) returns
    None, and the caller uses :func:`parse_decimal`, which gives the same value for these.
    """
    if not text.isascii():
        return None
    if text.replace(".", "", 1).isdigit():
        number = text
    elif "," in text and _PLAIN_GROUPED.fullmatch(text) is not None:
        number = text.replace(",", "")
    else:
        return None
    if len(number) <= _MAX_ADJUSTED_EXPONENT + 1:
        # At most 16 characters: CTX (28 digits) would not round them, and adjusted() <= 15.
        value = Decimal(number)
    else:
        value = CTX.create_decimal(number)
        if value.adjusted() > _MAX_ADJUSTED_EXPONENT:
            return None
    return value if value else ZERO


@functools.lru_cache(maxsize=4096)
def parse_quantity(text: str) -> tuple[str | None, Decimal, str] | None:
    """Split "≥90%" into (op, 90, "%"); None when the text holds no leading number.

    The unit keeps its original spelling apart from brackets ("(个)" -> "个") and the
    word "百分比" which means "%".  Negative numbers are returned as such; the engine decides.
    Cached: the same few texts ("100%", "≥90%", tier labels) recur across a province's forms,
    and the result is immutable.
    """
    # One regex pass and no exceptions: this runs for nearly every row of every form.
    op: str | None
    plain = _PLAIN_QUANTITY.fullmatch(text)
    if plain is not None:
        op = None
        num, unit = plain.groups()
    else:
        if not text.isascii():
            text = text.translate(_FULLWIDTH)
        match = _QUANTITY.match(text)
        if match is None:
            return None
        op, num, unit = match.group("op", "num", "unit")
    if "," in num:
        num = num.replace(",", "")
    value = Decimal(num)
    if unit:
        unit = unit.strip(_UNIT_BRACKETS)
        unit = _UNIT_ALIASES.get(unit, unit)
    return (_OPS[op] if op else None), value, unit


# Printing only: an absurd input (a 40-digit "actual") must still print in a flag or an
# explanation instead of raising; scores themselves never come near this size.
_WIDE = Context(
    prec=400, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def fmt(value: Decimal) -> str:
    """Shortest plain rendering: 10 not 1E+1, 2.5 not 2.50 (for weights and inputs)."""
    if value.adjusted() >= CTX.prec:
        return format(value.quantize(ONE, context=_WIDE), "f")
    if value == value.to_integral_value():
        # Exponent 0: str() prints it as format "f" does, and costs a third.
        return str(value.quantize(ONE, None, CTX))
    return format(value.normalize(CTX), "f")


def fmt2(value: Decimal) -> str:
    """Two places, as scores are printed."""
    if value.adjusted() >= CTX.prec - 2:
        return format(value.quantize(Q2, context=_WIDE), "f")
    # Exponent -2 and adjusted exponent >= -2: str() prints it as format "f" does.
    return str(q2(value))


def fmt_pct(ratio: Decimal) -> str:
    """A ratio as a percentage with 2 places: 0.86179 -> "86.18%"."""
    return fmt2(CTX.multiply(ratio, HUNDRED)) + "%"
