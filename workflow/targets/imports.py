"""Targets that arrive approved: imported by finance or an administrator from Excel or the
budget system's JSON export (many projects at once, audited with who and which file), and the
targets of an imported form (the form's own indicators under the cycle's framework).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from scoring.frameworks import (
    Framework,
    ProjectTargets,
    check_targets,
)
from workflow import policy
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.machine import TargetState
from workflow.models import (
    Actor,
    Cycle,
    Org,
    OrgKind,
    Project,
    TargetSet,
    utcnow,
)
from workflow.targets.operations import (
    ROW_FIELDS,
    TargetsError,
    TargetsForbidden,
    TargetsInvalid,
    approve_version,
    audit_targets,
    commit_or_conflict,
    flush_or_conflict,
    new_version,
    open_targets,
    raw_row,
)


@dataclass
class ImportResult:
    imported: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --- importing approved targets (finance, administrators) ------------------------------------

# The budget system's export, one object per project (README, "Targets from the budget
# system"): {"project_code", "unit_code", "year", "goal", "rows": [{level1, level2, name,
# nature, value, unit, weight}], "project_name"?}.
IMPORT_KEYS = ("project_code", "unit_code", "year", "goal", "rows")


def import_approved_targets(
    user: Actor, payload: Any, *, filename: str, cycle: Cycle
) -> ImportResult:
    """Import many projects' targets as approved, all or nothing, with one audit row per
    project naming who imported and which file."""
    begin_write()
    if not policy.can_import_targets(user):
        raise TargetsForbidden("只有财政或系统管理员可以导入已批复的绩效目标")
    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架，不能导入绩效目标")
    items = payload.get("projects") if isinstance(payload, Mapping) else payload
    if not isinstance(items, list) or not items:
        raise TargetsError("文件内容应为项目数组（或含 projects 数组的对象）")
    framework = cycle.framework.framework()
    result = ImportResult()
    staged: list[tuple[Project, ProjectTargets, str]] = []
    units = {org.code: org for org in db.session.scalars(select(Org).where(Org.code.is_not(None)))}
    for number, item in enumerate(items, start=1):
        where = f"第{number}个项目"
        if not isinstance(item, Mapping):
            result.problems.append(f"{where}：应为对象")
            continue
        missing = [key for key in IMPORT_KEYS if key not in item]
        if missing:
            result.problems.append(f"{where}：缺少字段 {'、'.join(missing)}")
            continue
        where = f"{where}（{item['project_code']}）"
        if str(item["year"]) != str(cycle.year):
            result.problems.append(f"{where}：年度 {item['year']} 与评价任务年度 {cycle.year} 不符")
            continue
        unit = units.get(str(item["unit_code"]))
        if unit is None or unit.kind != OrgKind.UNIT:
            result.problems.append(f"{where}：找不到单位编码 {item['unit_code']}")
            continue
        rows = item["rows"] if isinstance(item["rows"], list) else []
        parsed = ProjectTargets.from_dict(
            {
                "goal": str(item["goal"] or ""),
                "rows": [
                    {**{k: str(r.get(k, "") or "") for k in ROW_FIELDS}, "source": "import"}
                    for r in rows
                    if isinstance(r, Mapping)
                ],
            }
        )
        problems = check_targets(framework, parsed)
        if problems:
            result.problems.extend(f"{where}：{p.message}" for p in problems)
            continue
        project = db.session.scalar(
            select(Project).where(
                Project.code == str(item["project_code"]), Project.unit_id == unit.id
            )
        )
        if project is None:
            name = str(item.get("project_name") or item["project_code"])[:300]
            project = Project(unit=unit, name=name, code=str(item["project_code"]))
            db.session.add(project)
        staged.append((project, parsed, where))
    if result.problems:
        db.session.rollback()
        return result
    db.session.flush()
    for project, parsed, where in staged:
        targets = open_targets(project, cycle, parsed.goal)
        if targets.state == TargetState.SUBMITTED.value:
            result.problems.append(f"{where}：该项目的绩效目标正在审核中，不能导入覆盖")
            continue
        db.session.flush()
        from_state = targets.state
        targets.goal = parsed.goal
        targets.draft = {"rows": [raw_row(row) for row in parsed.rows]}
        kind = "adjustment" if targets.current_version_id is not None else "initial"
        version = new_version(targets, user, kind, f"导入：{filename}", source=filename[:200])
        db.session.flush()
        approve_version(targets, version, user)
        targets.state = TargetState.APPROVED.value
        targets.updated_at = utcnow()
        flush_or_conflict()
        audit_targets(
            targets,
            user,
            "targets_import",
            from_state,
            f"{user.name} 导入已批复绩效目标，文件：{filename}",
            {"target_version": version.number, "file": filename},
        )
        result.imported.append(project.name)
    if result.problems:
        db.session.rollback()
        result.imported = []
        return result
    commit_or_conflict()
    return result


def parse_json_upload(data: bytes) -> Any:
    """A JSON export as the budget system writes it: UTF-8 (± BOM) or, from older Windows
    exports, GB18030; every refusal in Chinese, naming where the JSON breaks."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TargetsError("文件的文字编码无法识别（已尝试 UTF-8 和 GB18030）：请另存为 UTF-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetsError(
            f"文件不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列附近有格式错误"
            "（请检查引号、逗号和括号）"
        ) from exc


# --- frameworks from schemes -----------------------------------------------------------------

# Which first levels a layout's framework keeps for itself, and per-level rule overrides
# (the shipped frameworks' own, scoring.frameworks.compile._BUILTIN).
LAYOUT_SHARED: Mapping[str, tuple[tuple[str, ...], Mapping[str, Mapping[str, Any]]]] = {
    "jiangsu": (("决策", "过程"), {}),
    "central": (("预算执行",), {"满意度指标": {">=": {"kind": "satisfaction"}}}),
}


def split_for_layout(scheme: Mapping[str, Any]) -> tuple[Framework, ProjectTargets]:
    """A scheme as framework plus targets, with the shared levels of its layout."""
    from scoring.frameworks import split_scheme

    shared, rules = LAYOUT_SHARED.get(str(scheme.get("layout", "")), ((), {}))
    names = {node["name"] for node in scheme.get("tree", [])}
    if not set(shared) <= names:
        shared, rules = (), {}
    return split_scheme(scheme, shared, level_rules=rules, source="scheme")


def framework_record_of_scheme(scheme: Mapping[str, Any]) -> Any:
    """The stored framework of a cycle's scheme (no commit); None when the scheme cannot be
    a framework (a first level without a weight)."""
    from scoring.schemes import SchemeError
    from workflow.models import framework_record_for

    try:
        framework, _ = split_for_layout(scheme)
    except SchemeError:
        return None
    return framework_record_for(framework.to_dict())


def approve_as_imported(
    project: Project,
    cycle: Cycle,
    targets_data: ProjectTargets,
    *,
    user: Actor | None,
    source: str,
    actor_name: str | None = None,
) -> TargetSet:
    """Targets put in force without the unit-department round (an import of a form or of
    the budget system's approved targets, the demo), with its audit row (no commit)."""
    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架，不能导入绩效目标")
    framework = cycle.framework.framework()
    problems = check_targets(framework, targets_data)
    if problems:
        raise TargetsInvalid("绩效目标与本年度评价框架不符", problems)
    targets = open_targets(project, cycle, targets_data.goal)
    db.session.flush()
    from_state = targets.state
    targets.goal = targets_data.goal
    targets.draft = {"rows": [raw_row(row) for row in targets_data.rows]}
    kind = "adjustment" if targets.current_version_id is not None else "initial"
    version = new_version(targets, user, kind, f"导入：{source}", source=source[:200])
    db.session.flush()
    approve_version(targets, version, user)
    targets.state = TargetState.APPROVED.value
    targets.updated_at = utcnow()
    db.session.flush()
    audit_targets(
        targets,
        user,
        "targets_import",
        from_state,
        f"导入已批复绩效目标：{source}",
        {"target_version": version.number, "file": source},
        actor_name=actor_name,
    )
    return targets


def targets_of_form(cycle: Cycle, scheme: Mapping[str, Any]) -> ProjectTargets:
    """The project's own rows of an imported form, under the cycle framework's levels."""
    from scoring.frameworks import targets_from_scheme

    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架")
    return targets_from_scheme(cycle.framework.framework(), scheme, source="import")
