"""Scoring engine for 项目支出绩效自评 (project-expenditure performance self-evaluation).

Pure Python: schemes (indicator trees) as data, every rule kind of the real forms, Decimal
scores with explanations and flags, grades, and importers for published forms.  It imports
nothing from the web application, nor Flask, SQLAlchemy, Celery or WeasyPrint.

    >>> from scoring import builtin_scheme, score
    >>> card = score(builtin_scheme("central"), {"budget_execution": {"numerator": "45", "denominator": "50"}})
    >>> card.row("budget_execution").score
    Decimal('9.00')
"""

from .engine import Flag, RowScore, Scorecard, grade_for, score, stage_total
from .importers import FormReadError, ImportResult, Problem, import_form, import_forms
from .model import (
    TIERS,
    Band,
    Group,
    Indicator,
    Rule,
    Scheme,
    Target,
    parse_target,
    tier_from_label,
)
from .numbers import InputError, parse_decimal
from .schemes import (
    BUILTIN_SCHEMES,
    SchemeError,
    builtin_scheme,
    load_scheme,
    scheme_from_dict,
    validate_scheme,
)

__all__ = [
    "BUILTIN_SCHEMES",
    "TIERS",
    "Band",
    "Flag",
    "FormReadError",
    "Group",
    "ImportResult",
    "Indicator",
    "InputError",
    "Problem",
    "RowScore",
    "Rule",
    "Scheme",
    "SchemeError",
    "Scorecard",
    "Target",
    "builtin_scheme",
    "grade_for",
    "import_form",
    "import_forms",
    "load_scheme",
    "parse_decimal",
    "parse_target",
    "scheme_from_dict",
    "score",
    "stage_total",
    "tier_from_label",
    "validate_scheme",
]
