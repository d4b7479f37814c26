"""The data model, one module per aggregate."""

from workflow.models.audit import AuditLog
from workflow.models.cycle import STAGES, Cycle
from workflow.models.evaluation import (
    Evaluation,
    Evidence,
    IndicatorScore,
    Project,
    SchemeSnapshot,
    snapshot_for,
)
from workflow.models.notice import Notice, ReminderClaim
from workflow.models.org import Org, OrgKind
from workflow.models.outbox import OutboxMessage
from workflow.models.pdf import PdfFile
from workflow.models.user import User, utcnow

__all__ = [
    "STAGES",
    "AuditLog",
    "Cycle",
    "Evaluation",
    "Evidence",
    "IndicatorScore",
    "Notice",
    "Org",
    "OrgKind",
    "OutboxMessage",
    "PdfFile",
    "Project",
    "ReminderClaim",
    "SchemeSnapshot",
    "User",
    "snapshot_for",
    "utcnow",
]
