"""The review trail as pages and the PDF show it: what the unit wrote beside each row (偏差原因
分析及改进措施), the opinions of the department and finance (审核意见), the reason of a return,
and the evidence files with which of them a browser can show inline.

Pure view data: it reads what the evaluation and its audit rows hold and decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from workflow.core.extensions import db
from workflow.machine import Event, State
from workflow.models import AuditLog, Evaluation
from workflow.policy import UPLOAD_ON_BEHALF

# Evidence a browser shows by itself: served inline with its own content type (evidence
# files are checked against their leading bytes on upload, so the type is what it says).
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})

RETURN_EVENTS = (Event.RETURN.value, Event.FINANCE_RETURN.value)
ON_BEHALF = UPLOAD_ON_BEHALF  # the audit event of a draft saved by the department or finance


def deviation_reasons(evaluation: Evaluation) -> dict[str, str]:
    """indicator code -> the unit's 偏差原因分析及改进措施 (only the rows that have one)."""
    found: dict[str, str] = {}
    for code, entry in (evaluation.entries or {}).items():
        if isinstance(entry, dict):
            text = str(entry.get("reason") or "").strip()
            if text:
                found[code] = text
    return found


@dataclass(frozen=True)
class Returned:
    """A form sent back and not yet moved forward again: who sent it back, when, why."""

    by_label: str  # 主管部门 or 财政
    who: str
    org: str
    when: datetime | None
    reason: str


def returned(evaluation: Evaluation) -> Returned | None:
    """The return that left the form where it is, when it has not moved forward since."""
    if evaluation.returned_reason is None:
        return None
    row = db.session.scalars(
        select(AuditLog)
        .where(AuditLog.evaluation_id == evaluation.id, AuditLog.event.in_(RETURN_EVENTS))
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).first()
    by_finance = evaluation.state != State.DRAFT.value
    return Returned(
        by_label="财政" if by_finance else "主管部门",
        who=row.actor_name if row else "",
        org=row.org_name if row else "",
        when=row.created_at if row else None,
        reason=evaluation.returned_reason,
    )


@dataclass(frozen=True)
class OnBehalf:
    """A draft as the department or finance uploaded it for the unit (代为上传)."""

    note: str  # who uploaded which file, as the audit row and the unit's notice say it
    when: datetime | None


def on_behalf(evaluation: Evaluation) -> OnBehalf | None:
    """The upload that filled the draft, while the draft is still exactly as it left it
    (nobody has saved it since: the audit row names the version the upload made)."""
    if evaluation.state != State.DRAFT.value:
        return None
    row = db.session.connection().execute(_LAST_ON_BEHALF, {"id": evaluation.id}).first()
    if row is None or row.version != evaluation.version:
        return None
    return OnBehalf(row.reason or "", row.created_at)


# The three columns the banner shows, built once (every draft's form page asks; building the
# statement and loading a whole audit row cost more than running it).
_LAST_ON_BEHALF = (
    select(AuditLog.version, AuditLog.reason, AuditLog.created_at)
    .where(AuditLog.evaluation_id == bindparam("id"), AuditLog.event == ON_BEHALF)
    .order_by(AuditLog.id.desc())
    .limit(1)
)


@dataclass(frozen=True)
class Opinion:
    label: str
    text: str
    who: str
    when: datetime | None


def opinions(evaluation: Evaluation) -> list[Opinion]:
    """The opinions in force: the department's at approval, finance's at confirmation."""
    found: list[Opinion] = []
    if evaluation.dept_opinion:
        found.append(
            Opinion(
                "主管部门审核意见",
                evaluation.dept_opinion,
                evaluation.reviewer.name if evaluation.reviewer else "",
                evaluation.reviewed_at,
            )
        )
    if evaluation.final_opinion:
        found.append(
            Opinion(
                "财政确认意见",
                evaluation.final_opinion,
                evaluation.confirmer.name if evaluation.confirmer else "",
                evaluation.confirmed_at,
            )
        )
    return found


@dataclass(frozen=True)
class EvidenceItem:
    id: int
    name: str
    size_kb: int
    uploaded_by: str
    uploaded_at: datetime | None
    inline: bool  # a browser can preview it (PDF, PNG, JPEG)
    image: bool


def evidence_items(evaluation: Evaluation) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            id=item.id,
            name=item.original_name,
            size_kb=(item.size + 1023) // 1024,
            uploaded_by=item.uploaded_by.name,
            uploaded_at=item.uploaded_at,
            inline=item.content_type in INLINE_TYPES,
            image=item.content_type.startswith("image/"),
        )
        for item in evaluation.evidence
    ]


def trail_context(evaluation: Evaluation) -> dict[str, Any]:
    """What every page of an evaluation shows of the trail (detail, review, finance, form)."""
    return {
        "deviations": deviation_reasons(evaluation),
        "returned": returned(evaluation),
        "on_behalf": on_behalf(evaluation),
        "opinions": opinions(evaluation),
    }
