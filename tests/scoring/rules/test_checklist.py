"""Checklist rows (scoring/rules/checklist.py): the band of every combination of points."""

from __future__ import annotations

import itertools
from decimal import ROUND_CEILING, Decimal, localcontext

from scoring.model import TIERS
from scoring.numbers import CTX, ONE, Q2, ZERO
from scoring.rules.checklist import EDGE, point_band, point_parts


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
                got_low, got_high, inclusive, top = point_band(
                    weight, point_parts(shares), list(combo)
                )
            assert str(got_low) == str(CTX.multiply(weight, low).quantize(EDGE, context=CTX))
            assert str(got_high) == str(CTX.multiply(weight, high).quantize(EDGE, context=CTX))
            assert inclusive == all(TIERS[name].high_inclusive for name in combo)
            # The top of the band: its bound when included, else the 2-place score under it.
            assert top == (
                got_high if inclusive else max(got_low, got_high.quantize(Q2, ROUND_CEILING) - Q2)
            )
