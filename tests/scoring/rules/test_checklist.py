"""Checklist rows (scoring/rules/checklist.py): the band of every combination of points."""

from __future__ import annotations

import itertools
from decimal import Decimal, localcontext

from scoring.model import TIERS
from scoring.numbers import CTX, ONE, ZERO
from scoring.rules.checklist import EDGE, point_band


def test_checklist_bands_for_every_combination() -> None:
    weight = Decimal(7)
    for shares in (
        [CTX.divide(ONE, Decimal(3))] * 3,
        [Decimal("0.5"), Decimal("0.3"), Decimal("0.2")],
        [Decimal("0.25")] * 4,
    ):
        for combo in itertools.product(TIERS, repeat=len(shares)):
            low = high = ZERO
            for share, name in zip(shares, combo, strict=True):
                low = CTX.add(low, CTX.multiply(share, TIERS[name].low))
                high = CTX.add(high, CTX.multiply(share, TIERS[name].high))
            with localcontext(CTX):
                got_low, got_high, inclusive = point_band(weight, shares, list(combo))
            assert str(got_low) == str(CTX.multiply(weight, low).quantize(EDGE, context=CTX))
            assert str(got_high) == str(CTX.multiply(weight, high).quantize(EDGE, context=CTX))
            assert inclusive == all(TIERS[name].high_inclusive for name in combo)
