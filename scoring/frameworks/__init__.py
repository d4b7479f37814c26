"""A cycle's evaluation framework (评价框架) and a project's approved targets (绩效目标).

A self-evaluation form is not a scheme of its own: it is the cycle's framework (first-level
indicators and their weights, the indicators every project shares such as the Jiangsu
决策/过程 checklists or the central form's 预算执行率 row, the second-level names allowed under
each first level, the default rule of each kind of target) plus the project's own 产出/效益/
满意度 indicators, approved with its budget.  :func:`compile_scheme` joins the two into the
scheme dictionary the engine scores (:meth:`scoring.model.Scheme.to_dict` form);
:func:`split_scheme` is its inverse, used to turn the shipped schemes into frameworks and
frozen schemes into framework plus targets.

Everything here is plain data and pure functions: no database, no framework.
"""

from __future__ import annotations

from .checks import check_targets, parse_date_target, target_text
from .compile import (
    assign_codes,
    builtin_framework,
    compile_scheme,
    split_scheme,
    targets_from_scheme,
)
from .data import (
    NATURE_SYMBOLS,
    NATURES,
    Framework,
    Level,
    ProjectTargets,
    TargetProblem,
    TargetRow,
)

__all__ = [
    "NATURES",
    "NATURE_SYMBOLS",
    "Framework",
    "Level",
    "ProjectTargets",
    "TargetProblem",
    "TargetRow",
    "assign_codes",
    "builtin_framework",
    "check_targets",
    "compile_scheme",
    "parse_date_target",
    "split_scheme",
    "target_text",
    "targets_from_scheme",
]
