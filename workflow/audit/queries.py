"""What the audit viewer reads: security events and audit-log rows, filtered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select

from workflow.core.audit import KINDS, OUTCOMES
from workflow.core.extensions import db
from workflow.machine import ROLE_LABELS, Role
from workflow.models import AuditLog, SecurityEvent

PAGE_ROWS = 200
EXPORT_ROWS = 100_000
LOGS = {"security": "安全事件", "audit": "业务审计（流转记录）"}


@dataclass(frozen=True)
class Filters:
    log: str = "security"
    start: date | None = None
    end: date | None = None
    user: str = ""
    kind: str = ""
    outcome: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "log": self.log,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "user": self.user,
            "kind": self.kind,
            "outcome": self.outcome,
        }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def parse_filters(args: Any) -> tuple[Filters, list[str]]:
    problems: list[str] = []

    def day(name: str, label: str) -> date | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            problems.append(f"{label}不是有效日期（应为 YYYY-MM-DD）")
            return None

    log = args.get("log") or "security"
    if log not in LOGS:
        problems.append("日志类别无效")
        log = "security"
    kind = (args.get("kind") or "").strip()[:40]
    outcome = (args.get("outcome") or "").strip()
    if outcome and outcome not in OUTCOMES:
        problems.append("结果无效")
        outcome = ""
    filters = Filters(
        log=log,
        start=day("start", "开始日期"),
        end=day("end", "结束日期"),
        user=(args.get("user") or "").strip()[:64],
        kind=kind,
        outcome=outcome if log == "security" else "",
    )
    return filters, problems


def _security(filters: Filters) -> Select[Any]:
    t = SecurityEvent.__table__
    query = select(t)
    if filters.start:
        query = query.where(t.c.created_at >= _day_start(filters.start))
    if filters.end:
        query = query.where(t.c.created_at < _day_start(filters.end + timedelta(days=1)))
    if filters.user:
        query = query.where(t.c.username == filters.user)
    if filters.kind:
        query = query.where(t.c.kind == filters.kind)
    if filters.outcome:
        query = query.where(t.c.outcome == filters.outcome)
    return query.order_by(t.c.seq.desc())


def _audit(filters: Filters) -> Select[Any]:
    t = AuditLog.__table__
    from workflow.models import User

    users = User.__table__
    query = select(t, users.c.username).outerjoin(users, users.c.id == t.c.actor_id)
    if filters.start:
        query = query.where(t.c.created_at >= _day_start(filters.start))
    if filters.end:
        query = query.where(t.c.created_at < _day_start(filters.end + timedelta(days=1)))
    if filters.user:
        query = query.where(users.c.username == filters.user)
    if filters.kind:
        query = query.where(t.c.event == filters.kind)
    return query.order_by(t.c.seq.desc())


def rows(filters: Filters, limit: int = PAGE_ROWS) -> Sequence[Any]:
    query = _security(filters) if filters.log == "security" else _audit(filters)
    return db.session.execute(query.limit(limit)).mappings().all()


SECURITY_HEADER = [
    "序号",
    "时间（UTC）",
    "类别",
    "结果",
    "用户",
    "角色",
    "IP 地址",
    "浏览器",
    "对象",
    "详情",
    "链值",
]
AUDIT_HEADER = [
    "序号",
    "时间（UTC）",
    "事件",
    "用户",
    "姓名",
    "角色",
    "机构",
    "评价表",
    "原状态",
    "新状态",
    "原因",
    "链值",
]


def _ts(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _role(value: str | None) -> str:
    try:
        return ROLE_LABELS[Role(value)]
    except (ValueError, KeyError):
        return value or ""


def _detail(detail: dict[str, Any] | None) -> str:
    """The event's details as 'key：value' pairs; the address and the browser are columns of
    their own, so the identity events' text leaves them out."""
    if not detail:
        return ""
    parts = []
    for key, value in detail.items():
        if key == "text":
            value = "；".join(
                p for p in str(value).split("；") if not p.startswith(("IP：", "UA："))
            )
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}：{text}")
    return "；".join(parts)


def table(filters: Filters, limit: int = EXPORT_ROWS) -> tuple[list[str], list[list[Any]]]:
    """Header and rows as the export writes them (and the page shows them)."""
    found = rows(filters, limit)
    if filters.log == "security":
        return SECURITY_HEADER, [
            [
                r["seq"],
                _ts(r["created_at"]),
                KINDS.get(r["kind"], r["kind"]),
                OUTCOMES.get(r["outcome"], r["outcome"]),
                r["username"],
                _role(r["role"]),
                r["ip"],
                r["user_agent"],
                r["object"],
                _detail(r["detail"]),
                r["chain"],
            ]
            for r in found
        ]
    return AUDIT_HEADER, [
        [
            r["seq"],
            _ts(r["created_at"]),
            r["event"],
            r["username"] or "",
            r["actor_name"],
            _role(r["role"]),
            r["org_name"],
            r["evaluation_id"] or "",
            r["from_state"] or "",
            r["to_state"] or "",
            r["reason"] or "",
            r["chain"],
        ]
        for r in found
    ]
