"""Administration operations shared by the admin pages and the CLI.

Each function checks its input, raises AdminError (Chinese message, optionally naming the
field it is about) and commits on success: one commit per request or command. Each writing
function starts with begin_write(): on SQLite a read transaction that later writes fails
with "database is locked" once another process has written in between.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, text

import scoring
from workflow.core.audit import record_security_event
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.core.inputs import parse_int
from workflow.models import (
    Actor,
    AuditLog,
    Cycle,
    Evaluation,
    EvaluationCount,
    Org,
    OrgKind,
    Project,
    compiled_scheme,
)
from workflow.models.org import ORG_KIND_LABELS

SCHEME_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _acting() -> Actor | None:
    """The signed-in administrator of the request, or None on the command line."""
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and getattr(current_user, "is_authenticated", False):
        user: Actor = current_user._get_current_object()  # type: ignore[attr-defined]
        return user
    return None


def admin_event(
    action: str,
    obj: str,
    detail: dict[str, Any] | None = None,
    *,
    kind: str = "admin_action",
    actor: Actor | None = None,
) -> None:
    """Record an administrator's action in the security log, in the action's transaction."""
    who = actor or _acting()
    record_security_event(
        kind,
        user=who,
        username=None if who else "命令行",
        outcome="success",
        object=obj,
        detail={"action": action, **(detail or {})},
    )


class AdminError(Exception):
    """A refused administration request; ``field`` names the form field it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- organisations ---------------------------------------------------------------------------


def create_org(*, name: str, kind: str, parent: Org | None = None, code: str | None = None) -> Org:
    begin_write()
    name = name.strip()
    if not name:
        raise AdminError("请填写机构名称", "name")
    if len(name) > 200:
        raise AdminError("机构名称不能超过 200 个字符", "name")
    try:
        org_kind = OrgKind(kind)
    except ValueError:
        raise AdminError("机构类型无效", "kind") from None
    if db.session.scalar(select(Org.id).where(Org.name == name)) is not None:
        raise AdminError(f"机构“{name}”已存在", "name")
    if org_kind is OrgKind.UNIT:
        if parent is None or parent.kind != OrgKind.DEPARTMENT:
            raise AdminError("预算单位必须隶属于一个主管部门", "parent_id")
    elif parent is not None:
        raise AdminError(f"{ORG_KIND_LABELS[org_kind]}不能有上级机构", "parent_id")
    org = Org(name=name, kind=org_kind.value, parent=parent, code=(code or "").strip() or None)
    db.session.add(org)
    admin_event("create_org", f"org:{name}", {"kind": org_kind.value})
    db.session.commit()
    return org


def org_tree() -> list[tuple[Org, list[Org]]]:
    """Top-level organisations (finance offices, departments) with their units, by name."""
    orgs = list(db.session.scalars(select(Org).order_by(Org.kind, Org.name)))
    children: dict[int, list[Org]] = {}
    for org in orgs:
        if org.parent_id is not None:
            children.setdefault(org.parent_id, []).append(org)
    order = {OrgKind.FINANCE.value: 0, OrgKind.DEPARTMENT.value: 1}
    tops = sorted(
        (o for o in orgs if o.parent_id is None), key=lambda o: (order.get(o.kind, 2), o.name)
    )
    return [(top, children.get(top.id, [])) for top in tops]


# --- schemes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeInfo:
    key: str
    title: str
    version: str
    indicators: int
    total: str
    source: str  # "builtin" or "uploaded"


def _scheme_dir(var_dir: str | Path) -> Path:
    return Path(var_dir) / "schemes"


def _info(key: str, scheme: scoring.Scheme, source: str) -> SchemeInfo:
    return SchemeInfo(
        key=key,
        title=scheme.title,
        version=scheme.version,
        indicators=len(scheme.indicators),
        total=str(scheme.total),
        source=source,
    )


def list_schemes(var_dir: str | Path) -> list[SchemeInfo]:
    """The built-in schemes, then every uploaded one that still validates."""
    infos = [_info(key, scoring.builtin_scheme(key), "builtin") for key in scoring.BUILTIN_SCHEMES]
    folder = _scheme_dir(var_dir)
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                scheme = scoring.load_scheme(path)
            except scoring.SchemeError:
                continue
            infos.append(_info(path.stem, scheme, "uploaded"))
    return infos


def get_scheme(var_dir: str | Path, key: str) -> scoring.Scheme:
    if key in scoring.BUILTIN_SCHEMES:
        return scoring.builtin_scheme(key)
    if not SCHEME_KEY_RE.match(key):
        raise AdminError("指标体系不存在", "scheme_key")
    path = _scheme_dir(var_dir) / f"{key}.json"
    if not path.is_file():
        raise AdminError("指标体系不存在", "scheme_key")
    try:
        return scoring.load_scheme(path)
    except scoring.SchemeError as exc:
        raise AdminError("该指标体系文件已无效：" + "；".join(exc.problems), "scheme_key") from None


def parse_scheme_upload(filename: str, content: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """Read an uploaded JSON/YAML scheme: (data, problems). Problems come from scoring."""
    import yaml

    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, ["文件不是 UTF-8 编码的文本"]
    try:
        data = json.loads(text) if filename.lower().endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        return None, [f"文件不是有效的 JSON/YAML：{exc}"]
    problems = scoring.validate_scheme(data)
    return (data if isinstance(data, dict) else None), problems


def save_scheme(var_dir: str | Path, data: dict[str, Any]) -> SchemeInfo:
    """Keep a valid uploaded scheme under VAR_DIR/schemes/<name>.json (normalised)."""
    problems = scoring.validate_scheme(data)
    if problems:
        raise AdminError("；".join(problems), "file")
    scheme = scoring.scheme_from_dict(data)
    key = str(scheme.name)
    if not SCHEME_KEY_RE.match(key):
        raise AdminError("指标体系的 name 只能包含字母、数字、下划线、点和连字符", "file")
    if key in scoring.BUILTIN_SCHEMES:
        raise AdminError(f"“{key}”是内置指标体系的名称，请换一个 name", "file")
    folder = _scheme_dir(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.json").write_text(
        json.dumps(scheme.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return _info(key, scheme, "uploaded")


# --- cycles ----------------------------------------------------------------------------------


def parse_ladder(text: str) -> list[int]:
    """'7, 3, 1' -> [7, 3, 1]: days before the deadline when reminders go out."""
    parts = [p for p in re.split(r"[,，、\s]+", text.strip()) if p]
    if not parts:
        raise AdminError("请至少填写一个提醒天数", "reminder_days")
    days: list[int] = []
    for part in parts:
        value = parse_int(part)
        if value is None:
            raise AdminError(f"“{part}”不是天数（应为 0–365 的整数）", "reminder_days")
        if value > 365:
            raise AdminError("提醒天数不能超过 365", "reminder_days")
        days.append(value)
    return sorted(set(days), reverse=True)


def _check_cycle(
    *,
    year: int,
    name: str,
    deadlines: tuple[date, date, date],
    day_kind: str,
    exclude_id: int | None,
) -> None:
    if not 2000 <= year <= 2100:
        raise AdminError("年度应在 2000–2100 之间", "year")
    if not name.strip():
        raise AdminError("请填写任务名称", "name")
    query = select(Cycle.id).where(Cycle.name == name.strip())
    if exclude_id is not None:
        query = query.where(Cycle.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise AdminError(f"任务名称“{name.strip()}”已存在", "name")
    submit, review, confirm = deadlines
    if review < submit:
        raise AdminError("审核截止日期不能早于填报截止日期", "deadline_review")
    if confirm < review:
        raise AdminError("确认截止日期不能早于审核截止日期", "deadline_confirm")
    if day_kind not in ("calendar", "working"):
        raise AdminError("日期计算方式无效", "day_kind")


def create_cycle(
    *,
    year: int,
    name: str,
    scheme_key: str,
    scheme: scoring.Scheme,
    deadline_submit: date,
    deadline_review: date,
    deadline_confirm: date,
    reminder_days: list[int],
    day_kind: str,
    active: bool = True,
) -> Cycle:
    begin_write()
    _check_cycle(
        year=year,
        name=name,
        deadlines=(deadline_submit, deadline_review, deadline_confirm),
        day_kind=day_kind,
        exclude_id=None,
    )
    cycle = Cycle(
        year=year,
        name=name.strip(),
        scheme_key=scheme_key,
        scheme_version=scheme.version,
        scheme=scheme.to_dict(),
        deadline_submit=deadline_submit,
        deadline_review=deadline_review,
        deadline_confirm=deadline_confirm,
        reminder_days=list(reminder_days),
        day_kind=day_kind,
        active=active,
    )
    from workflow.targets.imports import framework_record_of_scheme

    cycle.framework = framework_record_of_scheme(cycle.scheme)
    db.session.add(cycle)
    admin_event("create_cycle", f"cycle:{cycle.name}", {"scheme": scheme_key})
    db.session.commit()
    return cycle


def update_cycle(
    cycle: Cycle,
    *,
    year: int,
    name: str,
    deadline_submit: date,
    deadline_review: date,
    deadline_confirm: date,
    reminder_days: list[int],
    day_kind: str,
    active: bool,
) -> Cycle:
    """Change a cycle's name, deadlines and reminders. Its scheme is fixed once created:
    the evaluations hold a copy of it, and a changed scheme would not reach them."""
    begin_write()
    _check_cycle(
        year=year,
        name=name,
        deadlines=(deadline_submit, deadline_review, deadline_confirm),
        day_kind=day_kind,
        exclude_id=cycle.id,
    )
    cycle.year = year
    cycle.name = name.strip()
    cycle.deadline_submit = deadline_submit
    cycle.deadline_review = deadline_review
    cycle.deadline_confirm = deadline_confirm
    cycle.reminder_days = list(reminder_days)
    cycle.day_kind = day_kind
    cycle.active = active
    admin_event("update_cycle", f"cycle:{cycle.id}", {"name": cycle.name})
    db.session.commit()
    return cycle


# --- importing a filled form -----------------------------------------------------------------


def map_entries(
    result: scoring.ImportResult, scheme: scoring.Scheme
) -> dict[str, dict[str, object]]:
    """The imported entries keyed by the cycle scheme's codes (matched by path, then leaf name)."""
    by_path = {tuple(ind.path): ind.code for ind in scheme.indicators}
    by_leaf = {ind.path[-1]: ind.code for ind in scheme.indicators if ind.path[-1]}
    entries: dict[str, dict[str, object]] = {}
    for ind in result.scheme.indicators:
        code = by_path.get(tuple(ind.path)) or by_leaf.get(ind.path[-1])
        if code and ind.code in result.entries:
            entries[code] = dict(result.entries[ind.code])
    return entries


def import_form_draft(
    result: scoring.ImportResult,
    *,
    cycle: Cycle,
    unit: Org,
    fallback_name: str,
    actor: Actor | None = None,
) -> Evaluation:
    """Create a project and a draft evaluation from an imported form, with its audit row
    (no commit).

    The form's published scores are kept apart (Evaluation.published) from what the system
    computes, so that a difference shows instead of being silently overwritten.
    """
    begin_write()
    from workflow.evaluations import operations

    if unit.kind != OrgKind.UNIT:
        raise AdminError("请选择一个预算单位", "unit_id")
    from workflow.targets import imports as targets_imports
    from workflow.targets import operations as targets_ops

    project = Project(
        unit=unit,
        name=str(result.header.get("project") or fallback_name)[:300],
        summary=str(result.header.get("summary") or ""),
    )
    db.session.add(project)
    # The form's own 产出/效益/满意度 indicators become the project's approved targets, so
    # that its names survive instead of being mapped onto another project's.
    try:
        targets = targets_imports.approve_as_imported(
            project,
            cycle,
            targets_imports.targets_of_form(cycle, result.scheme.to_dict()),
            user=actor,
            source=fallback_name,
            actor_name=None if actor is not None else "命令行导入",
        )
    except targets_ops.TargetsError as exc:
        raise AdminError("；".join([exc.message, *exc.details[:10]])) from exc
    assert targets.current_version is not None
    scheme = scoring.scheme_from_dict(compiled_scheme(cycle.framework, targets.current_version))
    evaluation = operations.create_evaluation(project, cycle, map_entries(result, scheme))
    narratives = getattr(result, "narratives", {}) or {}
    evaluation.main_results = str(narratives.get("主要成效", ""))
    evaluation.problems = str(narratives.get("存在问题", ""))
    evaluation.measures = str(narratives.get("整改措施", ""))
    evaluation.published = {
        "scores": result.published,
        "total": result.published_total,
        "grade": getattr(result, "published_grade", None),
    }
    db.session.flush()
    reason = f"导入自评表：{fallback_name}（{len(result.problems)} 个问题）"
    if actor is not None:
        operations.record_admin_event(actor, "import", evaluation, reason)
    else:
        db.session.add(
            AuditLog(
                evaluation_id=evaluation.id,
                actor_name="命令行导入",
                role="system",
                event="import",
                to_state=evaluation.state,
                version=evaluation.version,
                reason=reason,
            )
        )
    return evaluation


def recount_evaluations() -> int:
    """Rebuild the kept counts (models/counts.py) from the evaluations; return how many
    (department, cycle, state) counts were wrong. Writes to evaluations wait meanwhile."""
    begin_write()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE evaluations IN SHARE ROW EXCLUSIVE MODE"))
    ev = Evaluation.__table__
    kept = EvaluationCount.__table__
    counted = {
        (d, c, s): n
        for d, c, s, n in db.session.execute(
            select(ev.c.department_id, ev.c.cycle_id, ev.c.state, func.count()).group_by(
                ev.c.department_id, ev.c.cycle_id, ev.c.state
            )
        )
    }
    before = {
        (d, c, s): n
        for d, c, s, n in db.session.execute(
            select(kept.c.department_id, kept.c.cycle_id, kept.c.state, kept.c.n)
        )
        if n
    }
    wrong = sum(1 for key in counted.keys() | before.keys() if counted.get(key) != before.get(key))
    # Every row stays and its generation rises by one (the rows may have changed without the
    # triggers): a web process may keep a page's rows under any number a group had, and
    # everybody's list keys on their sums (evaluations/queries.py). A group new here starts
    # at 1, as the triggers would start it: no page was kept under a row that was not there.
    rows = {
        tuple(r)
        for r in db.session.execute(select(kept.c.department_id, kept.c.cycle_id, kept.c.state))
    }
    db.session.execute(kept.update().values(n=0, changed=kept.c.changed + 1))
    found = [
        {"dept": d, "cyc": c, "st": s, "count": n}
        for (d, c, s), n in counted.items()
        if (d, c, s) in rows
    ]
    if found:
        db.session.execute(
            kept.update()
            .where(
                kept.c.department_id == bindparam("dept"),
                kept.c.cycle_id == bindparam("cyc"),
                kept.c.state == bindparam("st"),
            )
            .values(n=bindparam("count")),
            found,
        )
    new = [
        {"department_id": d, "cycle_id": c, "state": s, "n": n, "changed": 1}
        for (d, c, s), n in counted.items()
        if (d, c, s) not in rows
    ]
    if new:
        db.session.execute(kept.insert(), new)
    db.session.commit()
    return wrong
