"""The data model, one module per aggregate."""

from workflow.models.audit import AuditLog
from workflow.models.bulk import BulkImport, BulkImportFile
from workflow.models.bundle import PublicBundle
from workflow.models.counts import EvaluationCount
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
from workflow.models.org import Org, OrgGeneration, OrgKind
from workflow.models.outbox import OutboxMessage
from workflow.models.pdf import PdfFile
from workflow.models.recheck import (
    AnswerFile,
    BudgetAdvice,
    EvidenceRequest,
    RecheckBatch,
    RecheckItem,
    RecheckScore,
    Rectification,
    RiskFacts,
)
from workflow.models.security import AdminRequest, EvaluationSeal, SecurityEvent
from workflow.models.sheets_zip import SheetsZip
from workflow.models.targets import (
    FrameworkRecord,
    LibraryIndicator,
    TargetSet,
    TargetVersion,
    compiled_scheme,
    framework_record_for,
)
from workflow.models.user import Actor, OrgRef, PasswordHistory, SessionUser, User, utcnow

__all__ = [
    "STAGES",
    "Actor",
    "AdminRequest",
    "AnswerFile",
    "AuditLog",
    "BulkImport",
    "BulkImportFile",
    "BudgetAdvice",
    "Cycle",
    "Evaluation",
    "EvaluationCount",
    "EvaluationSeal",
    "Evidence",
    "EvidenceRequest",
    "FrameworkRecord",
    "IndicatorScore",
    "LibraryIndicator",
    "Notice",
    "Org",
    "OrgGeneration",
    "OrgKind",
    "OrgRef",
    "OutboxMessage",
    "PdfFile",
    "PublicBundle",
    "RecheckBatch",
    "RecheckItem",
    "RecheckScore",
    "Rectification",
    "RiskFacts",
    "Project",
    "ReminderClaim",
    "SchemeSnapshot",
    "PasswordHistory",
    "SecurityEvent",
    "SheetsZip",
    "SessionUser",
    "TargetSet",
    "TargetVersion",
    "User",
    "compiled_scheme",
    "framework_record_for",
    "snapshot_for",
    "utcnow",
]
