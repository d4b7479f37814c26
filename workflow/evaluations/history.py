"""The history timeline of an evaluation, read from the append-only audit log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from workflow.core.extensions import db
from workflow.evaluations.views import local_time
from workflow.machine import (
    RECHECK_TRANSITIONS,
    ROLE_LABELS,
    STATE_LABELS,
    TRANSITIONS,
    Event,
    Role,
    State,
)
from workflow.models import AuditLog, Evaluation

EVENT_LABELS: dict[str, str] = {t.event.value: t.label for t in TRANSITIONS}
EVENT_LABELS.update(
    {
        "import": "导入",
        "create": "创建",
        "resend_mail": "重新发送邮件",
        # The department or finance saved a filled workbook into the unit's draft (代为上传).
        "upload_on_behalf": "代为上传Excel（保存到草稿）",
    }
)
# What the audit row's reason is for each event: approvals and confirmations carry the
# overall opinion (审核意见), returns the reason that is also the opinion of the return.
REASON_LABELS = {
    Event.APPROVE.value: "审核意见",
    Event.CONFIRM.value: "确认意见",
    Event.RETURN.value: "退回原因（审核意见）",
    Event.FINANCE_RETURN.value: "退回原因（财政意见）",
    "upload_on_behalf": "说明",
}
# 抽查复核 (workflow/rechecks): its events are named recheck_<event> in the evaluation's log.
EVENT_LABELS.update({f"recheck_{t.event.value}": f"复核：{t.label}" for t in RECHECK_TRANSITIONS})
EVENT_LABELS.update(
    {
        "recheck_assign": "复核：指派复核人",
        "recheck_answer_files": "复核：单位上传补充材料",
        "rectify_edit": "整改事项调整（责任人、期限）",
        "budget_advice": "预算建议调整",
        "rectify_close": "整改销号",
    }
)
COLUMN_LABELS = {"self": "自评", "dept": "审核", "final": "确认"}


@dataclass
class Change:
    name: str
    column: str
    before: str
    after: str
    reason: str


@dataclass
class HistoryItem:
    when: str
    who: str
    role: str
    org: str
    event: str
    event_label: str
    from_label: str
    to_label: str
    reason: str
    totals: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    danger: bool = False
    reason_label: str = "原因"


def _state_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return STATE_LABELS[State(value)]
    except ValueError:
        return value


def timeline(evaluation: Evaluation, names: Mapping[str, tuple[str, ...]]) -> list[HistoryItem]:
    rows = db.session.scalars(
        select(AuditLog)
        .where(AuditLog.evaluation_id == evaluation.id)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    )
    items: list[HistoryItem] = []
    for row in rows:
        scores: dict[str, Any] = row.scores or {}
        totals = []
        for key, label in (("self", "自评"), ("dept", "审核"), ("final", "确认")):
            total = scores.get(f"{key}_total")
            if total:
                totals.append(f"{label} {total}（{scores.get(f'{key}_grade') or ''}）")
        changes = [
            Change(
                name="／".join(
                    p for p in names.get(str(c.get("code")), (str(c.get("code")),)) if p
                ),
                column=COLUMN_LABELS.get(str(c.get("column")), str(c.get("column") or "")),
                before=str(c.get("from") or "—"),
                after=str(c.get("to") or "—"),
                reason=str(c.get("reason") or ""),
            )
            for c in scores.get("changes") or []
        ]
        try:
            role = ROLE_LABELS[Role(row.role)]
        except ValueError:
            role = row.role
        danger = row.event in (Event.RETURN.value, Event.FINANCE_RETURN.value, Event.REOPEN.value)
        items.append(
            HistoryItem(
                when=local_time(row.created_at),
                who=row.actor_name,
                role=role,
                org=row.org_name,
                event=row.event,
                event_label=EVENT_LABELS.get(row.event, row.event),
                from_label=_state_label(row.from_state),
                to_label=_state_label(row.to_state),
                reason=row.reason or "",
                totals=totals,
                changes=changes,
                danger=danger,
                reason_label=REASON_LABELS.get(row.event, "原因"),
            )
        )
    return items
