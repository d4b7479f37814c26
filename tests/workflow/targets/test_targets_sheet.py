"""The 绩效目标申报表 as .xlsx: the download laid out like the paper sheet, the unit's upload
(every bad cell named, everything typed kept, another project's sheet refused, an approved
set's upload becoming an adjustment that keeps the indicator codes), and finance importing
many filled sheets and JSON exports at once, with a result per file."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import login
from workflow.core.extensions import db
from workflow.models import AuditLog, Cycle, Project, TargetSet

TRAINING = "政务服务人员业务能力培训"  # unit_a's targets, a draft in the demo
SEED = "政务服务信息系统建设维护和迭代升级"  # unit_a's, approved (the seed form's own rows)
KIOSKS = "政务大厅自助终端设备购置"  # unit_b's, submitted

VALID = [
    ("产出", "数量指标", "培训人次", "≥", 800, "人次", 10),
    ("产出", "质量指标", "培训考核合格率", "≥", 95, "%", 10),
    ("产出", "时效指标", "培训完成时间", "日期", "2022-10-31", None, 5),
    ("产出", "成本指标", "人均培训成本", "≤", 700, "元/人次", 5),
    ("效益", "社会效益", "业务能力提升", "定性", "明显提升", None, 30),
    ("满意度", "服务对象满意度", "参训人员满意度", "≥", 90, "%", 10),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _as(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def _targets_id(app: Flask, project: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(TargetSet.id).join(Project).where(Project.name == project))
        assert found is not None
        return int(found)


def _download(client: FlaskClient, targets_id: int) -> bytes:
    resp = client.get(f"/targets/{targets_id}/sheet.xlsx")
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == XLSX
    return resp.data


def _fill(data: bytes, rows: list[tuple[Any, ...]], goal: str = "全年培训800人次") -> bytes:
    """As a user does in Excel: type the goal and the rows into the yellow cells, clear the
    rest, save."""
    wb = load_workbook(BytesIO(data))
    ws = wb["绩效目标申报表"]
    ws["B6"] = goal
    for r in range(9, ws.max_row + 1):
        for letter in "ABCDEFGH":
            ws[f"{letter}{r}"] = None
    for offset, row in enumerate(rows):
        for letter, value in zip("ABCDEFG", row, strict=True):
            ws[f"{letter}{9 + offset}"] = value
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(client: FlaskClient, targets_id: int, data: bytes, name: str = "申报表.xlsx") -> Any:
    return client.post(
        f"/targets/{targets_id}/sheet",
        data={"file": (BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_the_sheet_is_laid_out_like_the_paper_form_and_locked(app: Flask) -> None:
    tid = _targets_id(app, SEED)
    wb = load_workbook(BytesIO(_download(_as(app, "unit_a"), tid)))
    ws = wb["绩效目标申报表"]
    assert ws["A1"].value == "项目支出绩效目标申报表"
    assert ws["B3"].value == SEED and ws["F3"].value == "320000221000000001"
    assert ws["F4"].value == "320002" and ws["F5"].value == 2022
    assert [ws[f"{c}8"].value for c in "ABCDEFGH"] == [
        "一级指标",
        "二级指标",
        "三级指标",
        "指标性质",
        "指标值",
        "度量单位",
        "分值",
        "指标库编号",
    ]
    names = [ws[f"C{r}"].value for r in range(9, ws.max_row + 1) if ws[f"C{r}"].value]
    assert "保障全省13个设区市政务服务子站点稳定运行" in "".join(names)
    # The project block is locked, the unit's cells are not; the seal sheet is very hidden.
    assert ws.protection.sheet is True
    assert ws["B3"].protection.locked is True
    assert ws["B6"].protection.locked is False and ws["C9"].protection.locked is False
    assert wb["seal"].sheet_state == "veryHidden"
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert any("产出" in (f or "") for f in lists.values())
    assert any("定性" in (f or "") for f in lists.values())
    assert ws.page_setup.orientation == "landscape" and ws.freeze_panes == "A9"


def test_the_page_offers_the_sheet_once_below_the_form(app: Flask) -> None:
    tid = _targets_id(app, TRAINING)
    html = _as(app, "unit_a").get(f"/targets/{tid}").get_data(as_text=True)
    title = html[html.index("<title>") : html.index("</title>")]
    assert "<" not in title[len("<title>") :] and TRAINING in title
    assert html.count('data-testid="sheet-download"') == 1
    assert html.count('data-testid="sheet-upload"') == 1
    assert html.index('data-testid="sheet-upload"') > html.index('id="targets-form"')


def test_others_cannot_download_a_units_sheet(app: Flask) -> None:
    tid = _targets_id(app, TRAINING)
    for username in ("unit_b", "reviewer_2", "auditor"):
        assert _as(app, username).get(f"/targets/{tid}/sheet.xlsx").status_code == 404
    for username in ("reviewer", "finance"):
        assert _as(app, username).get(f"/targets/{tid}/sheet.xlsx").status_code == 200


def test_the_unit_fills_the_sheet_in_excel_and_the_page_shows_it(app: Flask) -> None:
    tid = _targets_id(app, TRAINING)
    client = _as(app, "unit_a")
    resp = _upload(client, tid, _fill(_download(client, tid), VALID))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "已读入申报表并保存" in html
    assert 'value="参训人员满意度"' in html and "全年培训800人次" in html
    # It submits as typed on the page: the sheet was complete and valid.
    with app.app_context():
        targets = db.session.get(TargetSet, tid)
        assert targets is not None
        rows = targets.draft["rows"]
        assert [r["name"] for r in rows] == [r[2] for r in VALID]
        assert [r["nature"] for r in rows] == [">=", ">=", "date", "<=", "定性", ">="]
        version = targets.version
    resp = client.post(
        f"/targets/{tid}",
        data={"action": "submit", "version": str(version), "goal": "全年培训800人次"}
        | {
            f"{k}[]": [r.get(k, "") for r in rows]
            for k in (
                "level1",
                "level2",
                "name",
                "nature",
                "value",
                "unit",
                "weight",
                "code",
                "library_id",
                "source",
            )
        },
        follow_redirects=True,
    )
    assert "绩效目标已提交主管部门审核" in resp.get_data(as_text=True)


def test_every_bad_cell_is_named_and_nothing_typed_is_lost(app: Flask) -> None:
    tid = _targets_id(app, TRAINING)
    client = _as(app, "unit_a")
    rows = list(VALID)
    rows[0] = ("产出", "数量指标", "培训人次", "大约", 800, "人次", "十")
    rows[3] = ("产出", "成本指标", "人均培训成本", "≤", "七百", "元/人次", 5)
    resp = _upload(client, tid, _fill(_download(client, tid), rows))
    html = resp.get_data(as_text=True)
    assert "D9 指标性质：“大约”应为 ≥、≤、=、定性 或 日期" in html
    assert "G9 分值：“十”不是数字" in html
    assert "E12 指标值：“七百”不是数字（定量指标）" in html
    # The framework's own check names the row, as on the page.
    assert "第4行（人均培训成本）：定量指标的指标值须为数字" in html
    assert 'value="十"' in html and 'value="七百"' in html
    with app.app_context():
        targets = db.session.get(TargetSet, tid)
        assert targets is not None and targets.state == "draft"
        assert targets.draft["rows"][0]["weight"] == "十"
        assert targets.draft["rows"][5]["name"] == "参训人员满意度"


def test_another_projects_sheet_and_a_tampered_seal_are_refused(app: Flask) -> None:
    training, seed = _targets_id(app, TRAINING), _targets_id(app, SEED)
    client = _as(app, "unit_a")
    resp = _upload(client, training, _download(client, seed))
    assert resp.status_code == 422
    assert "文件是另一个项目的申报表（政务服务信息系统建设维护和迭代升级）" in resp.get_data(
        as_text=True
    )
    wb = load_workbook(BytesIO(_download(client, training)))
    wb["seal"]["A1"] = f"targets:{seed}|320000221000000001|2022"
    out = BytesIO()
    wb.save(out)
    resp = _upload(client, training, out.getvalue())
    assert resp.status_code == 422 and "校验信息被修改" in resp.get_data(as_text=True)
    resp = _upload(client, training, b"not a workbook", "x.xlsx")
    assert resp.status_code == 422 and "文件已损坏" in resp.get_data(as_text=True)
    with app.app_context():
        targets = db.session.get(TargetSet, training)
        assert targets is not None and targets.draft["rows"][0]["name"] == "培训人次"


def test_submitted_targets_refuse_an_upload_and_others_may_not_upload(app: Flask) -> None:
    kiosks = _targets_id(app, KIOSKS)
    client = _as(app, "unit_b")
    data = _download(client, kiosks)
    assert _upload(client, kiosks, data).status_code == 409
    training = _targets_id(app, TRAINING)
    assert _upload(_as(app, "unit_b"), training, data).status_code == 404
    reviewer = _as(app, "reviewer")
    assert _upload(reviewer, training, _download(reviewer, training)).status_code == 403


def test_an_approved_sets_upload_is_an_adjustment_keeping_the_codes(app: Flask) -> None:
    tid = _targets_id(app, SEED)
    client = _as(app, "unit_a")
    with app.app_context():
        targets = db.session.get(TargetSet, tid)
        assert targets is not None and targets.current_version is not None
        codes = [r.code for r in targets.current_version.targets().rows]
        in_force = targets.current_version_id
    wb = load_workbook(BytesIO(_download(client, tid)))
    ws = wb["绩效目标申报表"]
    ws["E9"] = 12  # the first target's value changes
    out = BytesIO()
    wb.save(out)
    resp = _upload(client, tid, out.getvalue())
    assert resp.status_code == 200 and "调整原因（必填）" in resp.get_data(as_text=True)
    with app.app_context():
        targets = db.session.get(TargetSet, tid)
        assert targets is not None
        assert targets.state == "approved" and targets.pending_kind == "adjustment"
        assert targets.current_version_id == in_force  # the approved one stays in force
        assert [r["code"] for r in targets.draft["rows"]] == codes
        assert targets.draft["rows"][0]["value"] == "12"


def test_finance_imports_many_sheets_and_exports_at_once_with_a_result_per_file(
    app: Flask,
) -> None:
    kiosks = _targets_id(app, KIOSKS)
    unit = _as(app, "unit_b")
    good = _fill(_download(unit, kiosks), VALID, goal="购置自助终端50台")
    bad_rows = list(VALID)
    bad_rows[0] = ("产出", "数量指标", "培训人次", "≥", 800, "人次", 99)
    bad = _fill(_download(unit, kiosks), bad_rows)
    with app.app_context():
        cycle = db.session.scalar(select(Cycle))
        assert cycle is not None
        cycle_id = cycle.id
    budget = {
        "projects": [
            {
                "project_code": "P-9",
                "unit_code": "320001",
                "year": 2022,
                "goal": "新项目",
                "project_name": "预算系统导入的新项目",
                "rows": [
                    dict(
                        zip(
                            ("level1", "level2", "name", "nature", "value", "unit", "weight"),
                            (str(v or "") for v in row),
                            strict=True,
                        )
                    )
                    | {"nature": {"≥": ">=", "≤": "<=", "日期": "date"}.get(str(row[3]), row[3])}
                    for row in VALID
                ],
            }
        ]
    }
    finance = _as(app, "finance")
    # A submitted set cannot be overwritten by an import: approve it first as the
    # department would, then finance's sheet replaces it as an adjustment.
    resp = finance.post(
        "/targets/import",
        data={
            "cycle_id": cycle_id,
            "file": [
                (BytesIO(good), "自助终端.xlsx"),
                (BytesIO(bad), "填错的.xlsx"),
                (BytesIO(json.dumps(budget).encode()), "budget.json"),
                (BytesIO(b"PK broken"), "坏文件.xlsx"),
            ],
        },
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert html.count('data-testid="import-file"') == 4
    assert "该项目的绩效目标正在审核中，不能导入覆盖" in html  # the kiosks are under review
    assert "“产出”各指标分值合计 119，应为 30" in html
    assert "已导入：预算系统导入的新项目" in html
    assert "坏文件.xlsx：文件已损坏" in html
    with app.app_context():
        found = db.session.scalar(select(TargetSet).join(Project).where(Project.code == "P-9"))
        assert found is not None and found.state == "approved"
        audit = db.session.scalar(select(AuditLog).where(AuditLog.targets_id == found.id))
        assert audit is not None and "budget.json" in (audit.reason or "")
        kiosks_set = db.session.get(TargetSet, kiosks)
        assert kiosks_set is not None and kiosks_set.state == "submitted"
    # The department approves the kiosks; finance's filled sheet then goes in as approved.
    reviewer = _as(app, "reviewer")
    with app.app_context():
        version = db.session.get(TargetSet, kiosks).version  # type: ignore[union-attr]
    reviewer.post(f"/targets/{kiosks}/review", data={"event": "approve", "version": version})
    resp = finance.post(
        "/targets/import",
        data={"cycle_id": cycle_id, "file": [(BytesIO(good), "自助终端.xlsx")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "已导入：政务大厅自助终端设备购置" in resp.get_data(as_text=True)
    with app.app_context():
        kiosks_set = db.session.get(TargetSet, kiosks)
        assert kiosks_set is not None and kiosks_set.state == "approved"
        assert kiosks_set.goal == "购置自助终端50台"
        rows = kiosks_set.current_version.targets().rows  # type: ignore[union-attr]
        assert [r.name for r in rows] == [r[2] for r in VALID]
        audit = db.session.scalars(
            select(AuditLog).where(AuditLog.targets_id == kiosks).order_by(AuditLog.id.desc())
        ).first()
        assert audit is not None and audit.event == "targets_import"
        assert audit.actor_name == "孙丽" and "自助终端.xlsx" in (audit.reason or "")


def test_a_value_the_page_cannot_offer_stays_selected_as_typed(app: Flask) -> None:
    """An uploaded 指标性质 or 二级指标 outside the lists is shown as typed and selected, so
    that 保存 on the page never swaps it silently for the first choice."""
    tid = _targets_id(app, TRAINING)
    client = _as(app, "unit_a")
    rows = list(VALID)
    rows[1] = ("产出", "经济效益指标", "培训考核合格率", "约为", 95, "%", 10)
    html = _upload(client, tid, _fill(_download(client, tid), rows)).get_data(as_text=True)
    assert '<option value="约为" selected>约为</option>' in html
    assert '<option value="经济效益指标" selected>经济效益指标</option>' in html
    assert "D10 指标性质：“约为”应为 ≥、≤、=、定性 或 日期" in html


def test_finance_fills_a_blank_sheet_for_a_new_project_and_imports_it(app: Flask) -> None:
    finance = _as(app, "finance")
    assert _as(app, "unit_a").get("/targets/import/template.xlsx").status_code == 404
    resp = finance.get("/targets/import/template.xlsx")
    assert resp.status_code == 200 and resp.mimetype == XLSX
    wb = load_workbook(BytesIO(resp.data))
    assert wb.sheetnames == ["绩效目标申报表"]  # no seal: an import matches on the codes
    ws = wb["绩效目标申报表"]
    assert ws["B3"].protection.locked is False and ws["F4"].protection.locked is False
    assert ws["F5"].value == 2022 and ws["F5"].protection.locked is True
    ws["B3"], ws["F3"], ws["F4"] = "政务服务“好差评”系统运维", "320000221000000088", "320001"
    out = BytesIO()
    wb.save(out)
    filled = _fill(out.getvalue(), VALID, goal="保障好差评系统全年稳定运行")
    with app.app_context():
        cycle_id = db.session.scalar(select(Cycle.id))
    resp = finance.post(
        "/targets/import",
        data={"cycle_id": cycle_id, "file": [(BytesIO(filled), "好差评.xlsx")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "已导入：政务服务“好差评”系统运维" in resp.get_data(as_text=True)
    with app.app_context():
        found = db.session.scalar(
            select(TargetSet).join(Project).where(Project.code == "320000221000000088")
        )
        assert found is not None and found.state == "approved"
        assert found.unit.name == "江苏省政务服务中心"
        assert found.goal == "保障好差评系统全年稳定运行"
