"""Not applicable (scoring/rules/not_applicable.py): markers and the total's policy."""

from __future__ import annotations

from decimal import Decimal

from scoring.numbers import parse_quantity
from scoring.rules.not_applicable import NA_MARKS, apply_policy


def test_no_marker_reads_as_a_number() -> None:
    # The quantity rule tries the number first and looks for a marker only when none parses.
    for mark in NA_MARKS:
        assert parse_quantity(mark) is None, mark


def test_rescale_and_exclude() -> None:
    total, flag = apply_policy("rescale", Decimal(100), Decimal(100), Decimal("72"), Decimal(80))
    assert total == Decimal("90.00")
    assert flag is not None and flag.code == "na_rescaled" and not flag.blocking
    total, flag = apply_policy("exclude", Decimal(100), Decimal(100), Decimal("72"), Decimal(80))
    assert total == Decimal("72.00")
    assert flag is not None and flag.code == "na_excluded"
    total, flag = apply_policy("rescale", Decimal(100), Decimal(100), Decimal("72.5"), Decimal(100))
    assert (total, flag) == (Decimal("72.50"), None)
