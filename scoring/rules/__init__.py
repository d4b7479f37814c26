"""One module per rule kind; each has one function that scores a row and explains it.

``SCORERS`` maps a rule kind to that function; :mod:`scoring.engine` compiles a scheme into
:class:`~scoring.rules.base.Plan` s and calls them inside ``localcontext(CTX)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .base import Entry, Flag, Plan, RowScore
from .checklist import score_checklist
from .not_applicable import NA_MARKS
from .quantity import score_equal, score_forward, score_reverse
from .ratio import score_ratio
from .tier import score_tier

__all__ = ["NA_MARKS", "SCORERS", "Flag", "Plan", "RowScore"]

SCORERS: Mapping[str, Callable[[Plan, Entry], RowScore]] = {
    "checklist": score_checklist,
    "tier": score_tier,
    "forward": score_forward,
    "satisfaction": score_forward,
    "equal": score_equal,
    "reverse": score_reverse,
    "ratio": score_ratio,
    "budget": score_ratio,
}
