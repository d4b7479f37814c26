"""The 绩效目标申报表 workbook's operations: the download, the unit's upload into its working
copy, and finance's import of many filled sheets as approved targets (a result per file).

The writes go through the targets' own operations (``save_targets``,
``import_approved_targets``): the same policy, checks, audit rows and one commit each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from workflow import policy
from workflow.models import Actor, Cycle, TargetSet
from workflow.targets import imports, operations
from workflow.targets.operations import TargetsError
from workflow.targets.sheet import ReadSheet, SheetData, SheetError, read_sheet, write_sheet


def _key() -> str:
    return str(current_app.config["SECRET_KEY"])


def max_bytes() -> int:
    """The size limit of an uploaded .xlsx (``XLSX_MAX_MB``, 5 MB unless configured)."""
    return int(current_app.config.get("XLSX_MAX_MB", 5)) * 1024 * 1024


def file_name(targets: TargetSet) -> str:
    return f"绩效目标申报表-{targets.cycle.year}-{targets.project.name}.xlsx".replace("/", "_")


def sheet_of(user: Actor, targets_id: int) -> tuple[TargetSet, bytes]:
    """The sheet of targets the user may see (404 otherwise), with the working copy."""
    targets = operations.load_targets_for(user, targets_id)
    data = SheetData(
        targets_id=targets.id,
        project_name=targets.project.name,
        project_code=targets.project.code or "",
        unit_name=targets.unit.name,
        unit_code=targets.unit.code or "",
        department_name=targets.department.name,
        year=targets.cycle.year,
        goal=targets.goal,
        rows=operations.working_rows(targets),
        framework=operations.framework_of(targets),
    )
    return targets, write_sheet(data, _key())


def blank_sheet(user: Actor, cycle: Cycle) -> bytes:
    """Finance's template for importing a project's approved targets from Excel."""
    if not policy.can_import_targets(user):
        raise operations.TargetsForbidden("只有财政或系统管理员可以导入已批复的绩效目标")
    if cycle.framework is None:
        raise TargetsError("本年度评价任务没有评价框架")
    data = SheetData(
        targets_id=0,
        project_name="",
        project_code="",
        unit_name="",
        unit_code="",
        department_name="",
        year=cycle.year,
        goal="",
        rows=[],
        framework=cycle.framework.framework(),
    )
    return write_sheet(data, _key(), blank=True)


def _with_codes(
    rows: list[dict[str, str]], known: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Uploaded rows keep the indicator codes of the working rows with the same names: the
    evaluation's entries are keyed by code, so an adjustment made in Excel must not renumber
    them."""
    codes: dict[tuple[str, str, str], str] = {}
    for row in known:
        if row.get("code"):
            codes.setdefault(
                (str(row.get("level1", "")), str(row.get("level2", "")), str(row.get("name", ""))),
                str(row["code"]),
            )
    out: list[dict[str, Any]] = []
    for row in rows:
        code = codes.pop((row["level1"], row["level2"], row["name"]), "")
        out.append({**row, "code": code})
    return out


@dataclass
class SheetUpload:
    targets: TargetSet
    cell_problems: list[str]
    adjusting: bool


def upload_sheet(user: Actor, targets_id: int, filename: str, data: bytes) -> SheetUpload:
    """The unit's filled sheet into the working copy of its targets, kept as typed (like 保存
    on the page); the cells that could not be read are named in ``cell_problems``."""
    targets = operations.load_targets_for(user, targets_id)
    try:
        sheet = read_sheet(filename, data, _key(), max_bytes())
    except SheetError as exc:
        raise TargetsError(exc.message) from exc
    if sheet.targets_id is None:
        raise TargetsError(
            "文件不是从本系统下载的申报表（缺少校验信息），请先下载本项目的申报表再填写"
        )
    if sheet.targets_id != targets.id:
        raise TargetsError(
            f"文件是另一个项目的申报表（{sheet.project_name or sheet.project_code}），"
            "请上传本项目下载的申报表"
        )
    adjusting = policy.can_targets(user, policy.TARGETS_ADJUST_EDIT, targets)
    rows = _with_codes(sheet.rows, operations.working_rows(targets))
    saved, _ = operations.save_targets(
        user,
        targets_id,
        goal=sheet.goal,
        rows=rows,
        reason=targets.pending_reason if adjusting else None,
    )
    return SheetUpload(saved, sheet.problems, adjusting)


@dataclass
class ImportedFile:
    filename: str
    imported: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.imported) and not self.problems


def _item(sheet: ReadSheet) -> dict[str, Any]:
    return {
        "project_code": sheet.project_code,
        "unit_code": sheet.unit_code,
        "year": sheet.year,
        "project_name": sheet.project_name,
        "goal": sheet.goal,
        "rows": sheet.rows,
    }


def import_files(
    user: Actor, files: Iterable[tuple[str, bytes]], cycle: Cycle
) -> list[ImportedFile]:
    """Finance's import: each file on its own, all or nothing within it (a JSON export of
    the budget system with many projects, or a filled 申报表 per project)."""
    results: list[ImportedFile] = []
    for filename, data in files:
        result = ImportedFile(filename)
        results.append(result)
        try:
            if filename.lower().endswith(".json"):
                payload: Any = imports.parse_json_upload(data)
            else:
                sheet = read_sheet(filename, data, _key(), max_bytes())
                if sheet.problems:
                    result.problems = sheet.problems
                    continue
                missing = [
                    label
                    for label, value in (
                        ("F3 项目编码", sheet.project_code),
                        ("F4 单位编码", sheet.unit_code),
                        ("F5 年度", sheet.year),
                    )
                    if not value
                ]
                if missing:
                    result.problems = [f"{'、'.join(missing)}未填写"]
                    continue
                payload = [_item(sheet)]
            outcome = imports.import_approved_targets(user, payload, filename=filename, cycle=cycle)
        except SheetError as exc:
            result.problems = [exc.message]
            continue
        except TargetsError as exc:
            if exc.status in (403, 404):
                raise
            result.problems = [exc.message]
            continue
        result.imported = outcome.imported
        result.problems = outcome.problems
    return results
