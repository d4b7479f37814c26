"""What the workbook pages read: the evaluations of a cycle a user may see, file names."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from workflow import policy
from workflow.core.extensions import db
from workflow.models import Actor, Cycle, Evaluation

_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def safe_name(text: str) -> str:
    """A name safe in a file name on Windows and in a ZIP (no separators or reserved marks)."""
    return _UNSAFE.sub("_", text).strip("._")[:120] or "自评表"


def visible_evaluations(user: Actor, cycle_id: int, unit_id: int | None = None) -> list[Evaluation]:
    """The cycle's evaluations in the user's scope (of one unit if given), every state they
    may see, by unit."""
    column, value = policy.visible_scope(user)
    if column == "none":
        return []
    query = (
        select(Evaluation)
        .where(Evaluation.cycle_id == cycle_id)
        .options(
            joinedload(Evaluation.project),
            joinedload(Evaluation.unit),
            joinedload(Evaluation.department),
            joinedload(Evaluation.cycle),
            joinedload(Evaluation.scheme_snapshot),
            joinedload(Evaluation.framework),
            joinedload(Evaluation.target_version),
        )
        .order_by(Evaluation.unit_id, Evaluation.id)
    )
    if column != "all":
        query = query.where(getattr(Evaluation, column) == value)
    if unit_id is not None:
        query = query.where(Evaluation.unit_id == unit_id)
    # The policy has the last word on each row (the SQL scope is its fast form).
    return [ev for ev in db.session.scalars(query).unique() if policy.can_view(user, ev)]


def zip_member(evaluation: Evaluation, version: int | None = None) -> str:
    """The sheet's name in the ZIP (the version the sheet was sealed with)."""
    sealed = evaluation.version if version is None else version
    return (
        f"{safe_name(evaluation.unit.name)}/"
        f"{safe_name(evaluation.project.name)}-{evaluation.id}-v{sealed}.xlsx"
    )


def cycles() -> list[Cycle]:
    return list(db.session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id.desc())))
