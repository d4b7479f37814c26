"""Helpers for tests that need a project with approved targets (a self-evaluation starts
only from them)."""

from __future__ import annotations

from datetime import date

from scoring.frameworks import ProjectTargets, builtin_framework
from workflow.models import Cycle, Project, TargetSet
from workflow.targets import imports as targets_imports


def seed_targets() -> ProjectTargets:
    """The seed form's own rows (the Jiangsu 2022 scheme's project indicators)."""
    return builtin_framework("jiangsu-2022")[1]


def approve_targets(
    project: Project, cycle: Cycle, targets: ProjectTargets | None = None
) -> TargetSet:
    """Put targets in force for the project as finance's import does (no commit)."""
    return targets_imports.approve_as_imported(
        project, cycle, targets or seed_targets(), user=None, source="test", actor_name="测试"
    )


def past_deadlines(cycle: Cycle) -> None:
    """The demo's deadlines are weeks ahead of the day it was loaded; tests about lateness
    put them back where they were in the 2022 cycle (no commit)."""
    cycle.deadline_submit = date(2023, 4, 14)
    cycle.deadline_review = date(2023, 4, 28)
    cycle.deadline_confirm = date(2023, 5, 19)
