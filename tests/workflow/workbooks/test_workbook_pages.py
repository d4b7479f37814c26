"""The Excel round trip of the 自评表: download, fill as a user would in Excel (openpyxl),
upload, and what the draft and the page hold afterwards; refusals; the ZIP; many files."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import select

from tests.workflow.pagehelpers import SEED, client_as, ev_id, form_values, version
from tests.workflow.sheethelpers import zip_response
from workflow.core.extensions import db
from workflow.models import Evaluation, Project

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BUDGET = "budget_execution_rate"


@pytest.fixture
def seed(app: Flask) -> int:
    return ev_id(app, SEED)


def _download(client: Any, evaluation_id: int) -> bytes:
    resp = client.get(f"/evaluations/{evaluation_id}/workbook.xlsx")
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == XLSX
    return resp.data


def _cells(wb: openpyxl.Workbook) -> dict[str, str]:
    """Which cell holds which field: read from the hidden sheet, as the server will."""
    return json.loads(wb["_jixiao"]["B1"].value)["cells"]


def _fill(data: bytes, values: dict[str, Any]) -> bytes:
    """What a user does in Excel: open the file, type into the yellow cells, save."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cells = _cells(wb)
    ws = wb["自评表"]
    for name, value in values.items():
        ws[cells[name]] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(client: Any, evaluation_id: int, data: bytes, name: str = "自评表.xlsx") -> Any:
    return client.post(
        f"/evaluations/{evaluation_id}/workbook",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _entries(app: Flask, evaluation_id: int) -> dict[str, Any]:
    with app.app_context():
        ev = db.session.get(Evaluation, evaluation_id)
        assert ev is not None
        return dict(ev.entries or {})


def _draft_ids(app: Flask, unit_name: str) -> list[int]:
    from workflow.models import Org

    with app.app_context():
        return list(
            db.session.scalars(
                select(Evaluation.id)
                .join(Org, Org.id == Evaluation.unit_id)
                .where(Org.name.contains(unit_name), Evaluation.state == "draft")
                .order_by(Evaluation.id)
            )
        )


# --- the download ----------------------------------------------------------------------------


def test_download_is_the_paper_form_locked_with_unlocked_inputs(app: Flask, seed: int) -> None:
    client = client_as(app, "unit_a")
    resp = client.get(f"/evaluations/{seed}/workbook.xlsx")
    disposition = resp.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition
    assert SEED in unquote(disposition.split("filename*=UTF-8''")[1])
    wb = openpyxl.load_workbook(io.BytesIO(resp.data))
    ws = wb["自评表"]
    cells = _cells(wb)

    # Title, project, headers and the framework's indicators printed.
    assert ws["A1"].value == "省级项目支出绩效自我评价表"  # the scheme's title
    texts = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert SEED in texts
    for label in (
        "一级指标",
        "二级指标",
        "三级指标",
        "年度指标值",
        "分值",
        "实际完成值",
        "得分",
        "偏差原因分析及改进措施",
        "评价要点 / 填报项",
        "项目资金（万元）",
        "主要成效",
    ):
        assert label in texts, label
    assert "预算执行率" in texts
    assert any(str(r).startswith("A") for r in ws.merged_cells.ranges)  # merged 一级 cells
    assert ws["F9"].value == "实际完成值"

    # Protection on; exactly the sealed cells unlocked, and shaded.
    assert ws.protection.sheet is True
    unlocked = {
        c.coordinate
        for row in ws.iter_rows()
        for c in row
        if c.protection is not None
        and c.protection.locked is False
        and not isinstance(c, openpyxl.cell.cell.MergedCell)
    }
    assert unlocked == set(cells.values())
    assert ws["C11"].protection.locked is True and ws["C11"].value  # an indicator name
    assert all(ws[ref].fill.fgColor.rgb.endswith("FFF2CC") for ref in cells.values())

    # Drop-downs: tiers on every tier and checklist point cell, 不适用 on its column.
    lists = {dv.formula1: dv for dv in ws.data_validations.dataValidation if dv.type == "list"}
    tiers = lists['"达成,部分达成,未达成"']
    tier_cells = {name for name in cells if name.endswith("-tier") or "-p" in name}
    assert tier_cells and all(cells[n] in tiers.sqref for n in tier_cells)
    assert all(cells[n] in lists['"不适用"'].sqref for n in cells if n.endswith("-na"))
    scores = [dv for dv in ws.data_validations.dataValidation if dv.type == "decimal"]
    assert any(cells[f"e-{BUDGET}-score"] in dv.sqref for dv in scores)

    # Print set-up and frozen headers.
    assert ws.page_setup.orientation == "landscape"
    assert str(ws.page_setup.paperSize) == str(ws.PAPERSIZE_A4)
    assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.freeze_panes == "A11"
    assert ws.print_title_rows == "$9:$10"
    assert ws.column_dimensions["C"].width > 10
    assert ws[cells[f"e-{BUDGET}-numerator"]].number_format == "#,##0.00"

    # The seal is on a very hidden sheet.
    assert wb["_jixiao"].sheet_state == "veryHidden"


def test_download_is_prefilled_with_the_draft(app: Flask, seed: int) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(_download(client_as(app, "unit_a"), seed)))
    cells = _cells(wb)
    ws = wb["自评表"]
    entries = _entries(app, seed)
    assert ws[cells[f"e-{BUDGET}-score"]].value == float(entries[BUDGET]["score"])
    assert ws[cells["filled_by"]].value == "张晓"
    assert ws[cells["e-decision_basis-p0"]].value == "达成"


# --- the round trip --------------------------------------------------------------------------


def test_filled_workbook_is_saved_to_the_draft(app: Flask, seed: int) -> None:
    client = client_as(app, "unit_a")
    before = version(app, seed)
    data = _fill(
        _download(client, seed),
        {
            f"e-{BUDGET}-numerator": 912.5,
            f"e-{BUDGET}-denominator": 1000,
            f"e-{BUDGET}-score": None,
            f"e-{BUDGET}-reason": "部分采购项目延期至次年支付",
            "e-decision_basis-p1": "部分达成",
            "e-quality_1-na": "不适用",
            "problems": "个别子项目进度滞后。",
        },
    )
    resp = _upload(client, seed, data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    entries = _entries(app, seed)
    assert entries[BUDGET]["numerator"] == "912.5"
    assert entries[BUDGET]["denominator"] == "1000"
    assert entries[BUDGET]["score"] == ""
    assert entries[BUDGET]["reason"] == "部分采购项目延期至次年支付"
    assert entries["decision_basis"]["points"][1] == "部分达成"
    assert entries["quality_1"]["na"] is True
    assert version(app, seed) == before + 1
    with app.app_context():
        assert db.session.get(Evaluation, seed).problems == "个别子项目进度滞后。"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已从 Excel 读取并保存到草稿" in page
    assert form_values(page)[f"e-{BUDGET}-numerator"] == "912.5"


def test_bad_cells_are_named_and_the_valid_ones_saved(app: Flask, seed: int) -> None:
    client = client_as(app, "unit_a")
    data = _download(client, seed)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cells = _cells(wb)
    data = _fill(
        data,
        {
            f"e-{BUDGET}-numerator": "九十",
            f"e-{BUDGET}-denominator": 1000,
            "e-decision_basis-score": 7,  # weight 2
            "e-decision_basis-p2": "差不多",
            "e-quality_1-na": "否",
            "e-quality_2-reason": "第三方测评延期",
        },
    )
    resp = _upload(client, seed, data)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    num = cells[f"e-{BUDGET}-numerator"]
    # The rule names the amount (实际支出资金); the message names the cell and says why.
    assert f"{num} 实际支出资金：&#39;九十&#39; 不是数字" in body
    assert f"{cells['e-decision_basis-score']} 得分：得分 7 超过分值 2" in body
    assert f"{cells['e-decision_basis-p2']} 评价要点3：" in body
    assert f"{cells['e-quality_1-na']} 不适用：" in body
    # Nothing typed is lost: the page shows the sheet's values, bad ones included.
    values = form_values(body)
    assert values[f"e-{BUDGET}-numerator"] == "九十"
    assert values["e-decision_basis-score"] == "7"
    assert values["e-quality_2-reason"] == "第三方测评延期"
    # The valid cells are in the draft; the bad ones kept their stored values.
    entries = _entries(app, seed)
    assert entries[BUDGET]["denominator"] == "1000"
    assert entries[BUDGET].get("numerator", "") != "九十"
    assert entries["quality_2"]["reason"] == "第三方测评延期"
    assert entries["decision_basis"]["score"] != "7"
    assert entries["decision_basis"]["points"][2] == "达成"
    assert not entries["quality_1"].get("na")
    # The page carries the version just saved: saving the corrected form works.
    assert int(values["version"]) == version(app, seed)


# --- outdated or foreign files ---------------------------------------------------------------


def test_file_outdated_after_the_evaluation_changed_is_refused(app: Flask, seed: int) -> None:
    client = client_as(app, "unit_a")
    data = _fill(_download(client, seed), {f"e-{BUDGET}-denominator": 1000})
    page = client.get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    assert client.post(f"/evaluations/{seed}/edit", data=form_values(page)).status_code == 302
    before = _entries(app, seed)
    resp = _upload(client, seed, data)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "已有改动" in body and "请重新下载" in body
    assert _entries(app, seed) == before


def test_another_evaluations_file_is_refused(app: Flask, seed: int) -> None:
    client = client_as(app, "unit_a")
    other = next(i for i in _draft_ids(app, "政务服务管理办公室") if i != seed)
    data = _download(client, other)
    resp = _upload(client, seed, data)
    assert resp.status_code == 422
    assert "另一张评价表" in resp.get_data(as_text=True)


def test_edited_hidden_sheet_is_refused(app: Flask, seed: int) -> None:
    client = client_as(app, "unit_a")
    wb = openpyxl.load_workbook(io.BytesIO(_download(client, seed)))
    hidden = wb["_jixiao"]
    payload = json.loads(hidden["B1"].value)
    payload["version"] = payload["version"] + 5
    hidden["B1"] = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    out = io.BytesIO()
    wb.save(out)
    before = version(app, seed)
    resp = _upload(client, seed, out.getvalue())
    assert resp.status_code == 422
    assert "校验信息不符" in resp.get_data(as_text=True)
    assert version(app, seed) == before


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("表.xlsx", b"hello, not a workbook", "请上传从本系统下载的 Excel 文件"),
        ("表.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "旧版 .xls"),
        ("表.xlsx", b"PK\x03\x04" + b"\0" * 200, "文件已损坏"),
        ("表.txt", b"PK\x03\x04", "请上传从本系统下载的 Excel 文件"),
    ],
)
def test_not_a_workbook_is_refused_clearly(
    app: Flask, seed: int, name: str, data: bytes, message: str
) -> None:
    resp = _upload(client_as(app, "unit_a"), seed, data, name)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)


def test_a_workbook_without_the_seal_is_refused(app: Flask, seed: int) -> None:
    wb = openpyxl.Workbook()
    out = io.BytesIO()
    wb.save(out)
    resp = _upload(client_as(app, "unit_a"), seed, out.getvalue())
    assert resp.status_code == 422
    assert "没有本系统的校验信息" in resp.get_data(as_text=True)


def test_oversized_file_is_refused(app: Flask, seed: int) -> None:
    app.config["XLSX_MAX_MB"] = 1
    resp = _upload(client_as(app, "unit_a"), seed, b"PK\x03\x04" + b"\0" * (1024 * 1024 + 10))
    assert resp.status_code == 422
    assert "文件过大" in resp.get_data(as_text=True)


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user,status", [("unit_b", 404), ("reviewer_2", 404), ("reviewer", 403), ("finance", 403)]
)
def test_only_the_owning_unit_uploads(app: Flask, seed: int, user: str, status: int) -> None:
    data = _fill(_download(client_as(app, "unit_a"), seed), {f"e-{BUDGET}-denominator": 1})
    before = version(app, seed)
    assert _upload(client_as(app, user), seed, data).status_code == status
    assert version(app, seed) == before


@pytest.mark.parametrize("user,status", [("unit_a", 200), ("reviewer", 200), ("unit_b", 404)])
def test_download_follows_who_may_view(app: Flask, seed: int, user: str, status: int) -> None:
    assert client_as(app, user).get(f"/evaluations/{seed}/workbook.xlsx").status_code == status


def test_submitted_evaluation_takes_no_upload(app: Flask) -> None:
    from workflow.models import User

    with app.app_context():
        ev = db.session.scalar(
            select(Evaluation).where(Evaluation.state == "self_scored").order_by(Evaluation.id)
        )
        assert ev is not None
        owner = db.session.scalar(
            select(User.username).where(User.org_id == ev.unit_id, User.role == "unit_staff")
        )
        target = ev.id
    assert owner is not None
    client = client_as(app, owner)
    before = (_entries(app, target), version(app, target))
    resp = _upload(client, target, _download(client, target))
    assert resp.status_code == 403
    assert "不能修改自评表" in resp.get_data(as_text=True)
    assert (_entries(app, target), version(app, target)) == before


# --- the ZIP and many files ------------------------------------------------------------------


def test_reviewer_zip_holds_its_departments_sheets(app: Flask, seed: int) -> None:
    with app.app_context():
        cycle_id = db.session.get(Evaluation, seed).cycle_id
        mine = list(
            db.session.scalars(
                select(Evaluation.id).where(
                    Evaluation.cycle_id == cycle_id,
                    Evaluation.department_id == db.session.get(Evaluation, seed).department_id,
                )
            )
        )
        total = db.session.scalar(
            select(db.func.count()).select_from(Evaluation).where(Evaluation.cycle_id == cycle_id)
        )
    resp = zip_response(client_as(app, "reviewer"), cycle_id)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(resp.data))
    names = archive.namelist()
    assert len(names) == len(mine) < total
    ids = sorted(int(n.rsplit("-", 2)[-2]) for n in names)
    assert ids == sorted(mine)
    first = openpyxl.load_workbook(io.BytesIO(archive.read(names[0])))
    assert first["_jixiao"].sheet_state == "veryHidden"
    finance = zip_response(client_as(app, "finance"), cycle_id)
    assert len(zipfile.ZipFile(io.BytesIO(finance.data)).namelist()) == total
    unit = client_as(app, "unit_a")
    assert unit.post("/workbooks/sheets-zip", data={"cycle": str(cycle_id)}).status_code == 404


def test_many_files_at_once_each_with_its_result(app: Flask, seed: int) -> None:
    unit_a = client_as(app, "unit_a")
    good = _fill(_download(unit_a, seed), {f"e-{BUDGET}-denominator": 1000})
    other_a = next(i for i in _draft_ids(app, "政务服务管理办公室") if i != seed)
    bad_cell = _fill(_download(unit_a, other_a), {"phone": "x" * 60})
    with app.app_context():
        unit_b_draft = db.session.scalar(
            select(Evaluation.id)
            .join(Project)
            .where(Evaluation.state == "draft", Project.name == "政务服务中心窗口服务提升")
        )
    foreign = _download(client_as(app, "reviewer"), unit_b_draft) if unit_b_draft else None
    files = [
        (io.BytesIO(good), "good.xlsx"),
        (io.BytesIO(bad_cell), "bad-cell.xlsx"),
        (io.BytesIO(b"not excel"), "notes.xlsx"),
    ]
    if foreign is not None:
        files.append((io.BytesIO(foreign), "unit-b.xlsx"))
    resp = unit_a.post(
        "/workbooks/upload", data={"files": files}, content_type="multipart/form-data"
    )
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    rows = body.split('data-testid="upload-results"')[1]
    assert "good.xlsx" in rows and "已保存" in rows
    assert "bad-cell.xlsx" in rows and "1 处有误未保存" in rows and "联系电话" in rows
    assert "notes.xlsx" in rows and "请上传从本系统下载的 Excel 文件" in rows
    assert _entries(app, seed)[BUDGET]["denominator"] == "1000"
    if foreign is not None:
        assert "unit-b.xlsx" in rows and "未找到该评价表，或您无权填报" in rows
    assert (
        client_as(app, "reviewer")
        .post(
            "/workbooks/upload",
            data={"files": [(io.BytesIO(good), "x.xlsx")]},
            content_type="multipart/form-data",
        )
        .status_code
        == 404
    )


def test_cli_writes_the_same_workbook(app: Flask, seed: int, tmp_path: Any) -> None:
    out = tmp_path / "seed.xlsx"
    result = app.test_cli_runner().invoke(args=["evaluations", "xlsx", str(seed), str(out)])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    assert json.loads(wb["_jixiao"]["B1"].value)["evaluation_id"] == seed
    missing = app.test_cli_runner().invoke(args=["evaluations", "xlsx", "999999", str(out)])
    assert missing.exit_code == 2


def test_file_of_an_older_scheme_is_refused(app: Flask, seed: int) -> None:
    client = client_as(app, "unit_a")
    data = _download(client, seed)
    with app.app_context():
        ev = db.session.get(Evaluation, seed)
        content = json.loads(json.dumps(ev.scheme))
        content["title"] = content["title"] + "（修订）"
        ev.scheme = content  # a new snapshot: what a re-compiled scheme does
        db.session.commit()
    resp = _upload(client, seed, data)
    assert resp.status_code == 422
    assert "指标体系在文件下载后已变化" in resp.get_data(as_text=True)


def test_a_cell_typed_far_to_the_right_is_left_out_and_the_rest_saved(
    app: Flask, seed: int
) -> None:
    """Something typed in column XFD (the last Excel has) is not read; the form's own cells
    are, as typed."""
    client = client_as(app, "unit_a")
    wb = openpyxl.load_workbook(
        io.BytesIO(_fill(_download(client, seed), {"problems": "进度滞后。"}))
    )
    for row in range(1, 400):
        wb["自评表"].cell(row=row, column=16384, value="多余")
    out = io.BytesIO()
    wb.save(out)
    resp = _upload(client, seed, out.getvalue())
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    with app.app_context():
        assert db.session.get(Evaluation, seed).problems == "进度滞后。"
