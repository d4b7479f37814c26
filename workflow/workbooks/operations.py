"""Downloading and uploading the 自评表 workbook.

An upload is the web form typed in: the cells are parsed by the evaluations' own form
parser and what is valid is saved by `evaluations.operations.save_draft`, the operation the
form page uses (same policy, version check and commit). Nothing here writes an evaluation
by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app

from workflow import policy
from workflow.evaluations import operations as evaluations
from workflow.evaluations.forms import EntryForm
from workflow.evaluations.operations import Forbidden, OperationError
from workflow.machine import Role
from workflow.models import Actor, Evaluation
from workflow.workbooks import forms, queries, render
from workflow.workbooks.seal import SealError

log = logging.getLogger(__name__)

DEFAULT_MAX_MB = 5
MAX_FILES = 200  # files in one multi-upload


# A file of an evaluation this user may not even see (another department's unit): said so,
# without telling whether it exists.
NOT_YOURS_ON_BEHALF = "未找到该评价表，或该表不属于您所辖的单位：文件未保存"


class UploadRefused(OperationError):
    """The file cannot be taken (type, damage, seal, outdated); nothing was saved."""

    status = 422


def secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def max_bytes() -> int:
    return int(current_app.config.get("XLSX_MAX_MB", DEFAULT_MAX_MB)) * 1024 * 1024


def workbook_of(evaluation: Evaluation) -> bytes:
    scheme = evaluations.scheme_of(evaluation)
    data = render.sheet_data(evaluation, scheme, evaluations.NARRATIVE_FIELDS)
    return render.write_workbook(data, secret())


def download(user: Actor, evaluation_id: int) -> tuple[Evaluation, bytes]:
    """Anyone who may view the evaluation may download its sheet (prefilled with the draft)."""
    evaluation = evaluations.load_for(user, evaluation_id)
    return evaluation, workbook_of(evaluation)


def file_name(evaluation: Evaluation) -> str:
    return f"{queries.safe_name(evaluation.project.name)}-绩效自评表-{evaluation.id}-v{evaluation.version}.xlsx"


# --- upload ----------------------------------------------------------------------------------


@dataclass
class UploadResult:
    evaluation: Evaluation
    form: EntryForm
    # Field name -> "F12 实际完成值：'九十' 不是数字", in sheet order.
    cell_errors: dict[str, str] = field(default_factory=dict)

    @property
    def saved_all(self) -> bool:
        return not self.cell_errors


def _outdated(sheet: forms.SheetValues, evaluation: Evaluation, expected_id: int | None) -> None:
    seal = sheet.seal
    if expected_id is not None and seal.evaluation_id != expected_id:
        raise UploadRefused(
            f"这个文件是另一张评价表（编号 {seal.evaluation_id}）的，不是本表（编号 {expected_id}）："
            "请上传本项目的自评表文件"
        )
    if seal.scheme_digest != evaluation.scheme_key:
        raise UploadRefused("评价表的指标体系在文件下载后已变化，文件已过期：请重新下载后填写")
    if seal.version != evaluation.version:
        raise UploadRefused(
            f"文件下载后评价表已有改动（文件为第 {seal.version} 版，当前为第 {evaluation.version} 版），"
            "为免覆盖他人填写的内容，文件已过期：请重新下载后填写"
        )


def _editable(user: Actor, evaluation_id: int, on_behalf: bool = False) -> Evaluation:
    """The evaluation if this user may save its draft (the unit's EDIT, or the department's
    or finance's UPLOAD_ON_BEHALF), else a refusal saying why."""
    action = policy.UPLOAD_ON_BEHALF if on_behalf else policy.EDIT
    evaluation = evaluations.load_for(user, evaluation_id)
    if not policy.can(user, action, evaluation):
        if policy.could_edit_in_its_state(user, action, evaluation):
            if on_behalf:
                raise Forbidden(
                    f"当前状态（{evaluation.state_label}）不能代为上传：只有填报中（含退回单位）"
                    "的评价表可以上传，文件未保存"
                )
            raise Forbidden(f"当前状态（{evaluation.state_label}）不能修改自评表，文件未保存")
        if on_behalf:
            raise Forbidden("只能为本部门所属单位的评价表代为上传，文件未保存")
        raise Forbidden("只有填报单位可以上传本表")
    return evaluation


BY_LABELS = {Role.REVIEWER: "主管部门", Role.FINANCE: "财政"}


def on_behalf_note(user: Actor, filename: str, unsaved: int) -> str:
    """What the audit row and the unit's notice say of a save made for the unit."""
    org = user.org.name if user.org else ""
    by = BY_LABELS.get(user.role, "")
    who = f"{org}（{by}）{user.name}" if org else f"{by}{user.name}"
    note = f"{who} 代为上传 Excel 文件“{filename[:120]}”，已保存到草稿"
    if unsaved:
        note += f"；{unsaved} 处有误未保存（保留原来的内容）"
    return note


def read_upload(filename: str, data: bytes) -> forms.SheetValues:
    try:
        forms.check_file(filename, data, max_bytes())
        return forms.read_values(data, secret())
    except (forms.WorkbookError, SealError) as exc:
        raise UploadRefused(str(exc)) from exc


def upload(
    user: Actor,
    evaluation_id: int | None,
    filename: str,
    data: bytes,
    on_behalf: bool = False,
) -> UploadResult:
    """Read a filled workbook and save its valid cells to the draft it was made from.

    `evaluation_id` is the page's evaluation (the file must be its own), or None for a
    multi-upload, where the seal names the evaluation. `on_behalf`: the department or
    finance uploads for the unit (audited, the unit told). Raises an OperationError (nothing
    saved) for a file that is not ours, damaged, outdated or not the user's to edit."""
    if evaluation_id is not None:
        # The page's own evaluation: who may upload is decided before the file is looked at.
        evaluation = _editable(user, evaluation_id, on_behalf)
        sheet = read_upload(filename, data)
    else:
        sheet = read_upload(filename, data)
        evaluation = _editable(user, sheet.seal.evaluation_id, on_behalf)
    _outdated(sheet, evaluation, evaluation_id)
    scheme = evaluations.scheme_of(evaluation)
    stored = dict(evaluation.entries or {})
    form, cell_errors = forms.parse_upload(sheet, scheme, stored)
    entries, narrative = forms.valid_part(form, stored)
    note = on_behalf_note(user, filename, len(cell_errors)) if on_behalf else None
    saved = evaluations.save_draft(
        user, evaluation.id, entries, narrative, sheet.seal.version, on_behalf=note
    )
    log.info(
        "workbook upload: evaluation %s v%s by %s%s, %d cell errors",
        saved.id,
        saved.version,
        user.id,
        " on the unit's behalf" if on_behalf else "",
        len(cell_errors),
    )
    form.version = saved.version
    return UploadResult(saved, form, cell_errors)


@dataclass
class FileResult:
    filename: str
    saved: bool
    message: str
    evaluation_id: int | None = None
    project: str = ""
    errors: list[str] = field(default_factory=list)
    unit: str = ""


def upload_many(
    user: Actor, files: Iterable[tuple[str, bytes]], on_behalf: bool = False
) -> list[FileResult]:
    """Each file on its own (one commit each): one bad file never holds back the others.
    A unit fills its own drafts; with `on_behalf`, a department or finance its units'."""
    from workflow.core.extensions import db

    results: list[FileResult] = []
    for count, (filename, data) in enumerate(files):
        if count >= MAX_FILES:
            results.append(
                FileResult(filename, False, f"一次最多上传 {MAX_FILES} 个文件，本文件未处理")
            )
            continue
        try:
            result = upload(user, None, filename, data, on_behalf)
        except OperationError as exc:
            db.session.rollback()
            message = exc.message
            if exc.status == 404:
                message = NOT_YOURS_ON_BEHALF if on_behalf else "未找到该评价表，或您无权填报"
            results.append(FileResult(filename, False, message))
            continue
        errors = list(result.cell_errors.values())
        message = "已保存" if not errors else f"已保存，{len(errors)} 处有误未保存"
        if on_behalf:
            message = message.replace("已保存", "已保存到单位草稿", 1) + "；已通知填报单位"
        results.append(
            FileResult(
                filename,
                True,
                message,
                result.evaluation.id,
                result.evaluation.project.name,
                errors,
                result.evaluation.unit.name,
            )
        )
    return results
