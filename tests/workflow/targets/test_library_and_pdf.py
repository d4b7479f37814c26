"""The indicator library's admin pages and .xlsx round trip; the PDF prints an adjusted
target with its original."""

from __future__ import annotations

from io import BytesIO

from flask import Flask
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.workflow.targets.test_targets_pages import TRAINING, _as, _targets_id
from workflow.core.extensions import db
from workflow.documents.render import build_view, render_html
from workflow.models import Evaluation, LibraryIndicator, Project
from workflow.targets.library import COLUMNS, SEED


def test_the_library_is_seeded_and_listed(app: Flask) -> None:
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LibraryIndicator)) == len(SEED)
    assert len(SEED) >= 30
    html = _as(app, "sysadmin").get("/targets/library").get_data(as_text=True)
    for name in ("项目验收合格率", "资金拨付及时率", "服务对象满意度", "培训人次", "设备完好率"):
        assert name in html
    # 指标性质 as users write it, not as stored.
    assert "<td>≥</td>" in html and "<td>日期</td>" in html and "<td>&gt;=</td>" not in html
    assert _as(app, "unit_a").get("/targets/library").status_code == 404


def test_add_edit_disable(app: Flask) -> None:
    admin = _as(app, "sysadmin")
    form = {
        "level1": "产出",
        "level2": "数量指标",
        "name": "宣传活动场次",
        "nature": ">=",
        "unit": "场",
        "default_value": "12",
        "method": "年度举办的宣传活动场次",
        "active": "1",
    }
    bad = admin.post("/targets/library/new", data={**form, "unit": ""})
    assert bad.status_code == 422 and "定量指标须填写度量单位" in bad.get_data(as_text=True)
    assert admin.post("/targets/library/new", data=form).status_code == 302
    again = admin.post("/targets/library/new", data=form)
    assert again.status_code == 422 and "指标库中已有“宣传活动场次”" in again.get_data(as_text=True)
    with app.app_context():
        item = db.session.scalar(
            select(LibraryIndicator).where(LibraryIndicator.name == "宣传活动场次")
        )
        assert item is not None
        item_id = item.id
    assert (
        admin.post(
            f"/targets/library/{item_id}/edit", data={**form, "default_value": "20"}
        ).status_code
        == 302
    )
    assert admin.post(f"/targets/library/{item_id}/active", data={"active": "0"}).status_code == 302
    with app.app_context():
        item = db.session.get(LibraryIndicator, item_id)
        assert item is not None and item.default_value == "20" and item.active is False
    # A disabled entry is not offered on the targets page.

    page = _as(app, "unit_a").get(f"/targets/{_targets_id(app, TRAINING)}").get_data(as_text=True)
    assert "宣传活动场次" not in page and "资金拨付及时率" in page


def test_xlsx_export_and_import_round_trip(app: Flask) -> None:
    admin = _as(app, "sysadmin")
    resp = admin.get("/targets/library/export.xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(BytesIO(resp.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS and len(rows) == len(SEED) + 1
    # Change one, add one, and read it back.
    book = Workbook()
    out = book.active
    out.append(COLUMNS)
    out.append(["产出", "质量指标", "设备完好率", "≥", "%", "99", "完好设备 ÷ 设备总数", "启用"])
    out.append(["效益", "社会效益", "志愿服务时长", "≥", "小时", "500", "登记的服务时长", "启用"])
    data = BytesIO()
    book.save(data)
    resp = admin.post(
        "/targets/library/import",
        data={"file": (BytesIO(data.getvalue()), "lib.xlsx")},
        follow_redirects=True,
    )
    assert "已导入：新增 1 个，更新 1 个" in resp.get_data(as_text=True)
    with app.app_context():
        kept = db.session.scalar(
            select(LibraryIndicator).where(LibraryIndicator.name == "设备完好率")
        )
        assert kept is not None and kept.default_value == "99" and kept.nature == ">="
    # A bad row refuses the whole file, naming the row.
    out.append(["效益", "社会效益", "坏指标", "大于", "", "", "", ""])
    data = BytesIO()
    book.save(data)
    resp = admin.post(
        "/targets/library/import",
        data={"file": (BytesIO(data.getvalue()), "lib.xlsx")},
        follow_redirects=True,
    )
    assert "第4行：指标性质“大于”无效" in resp.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(LibraryIndicator).where(LibraryIndicator.name == "坏指标"))
            is None
        )


def test_the_pdf_prints_the_adjusted_target_with_the_original(app: Flask) -> None:
    with app.app_context():
        ev = db.session.scalar(
            select(Evaluation).join(Project).where(Project.name == "数据共享交换平台升级")
        )
        assert ev is not None
        view = build_view(ev)
        targets = [row.target for row in view.rows if row.name == "项目验收合格率"]
        assert targets == ["≥95%（2022-06-30 调整，原 ≥98%）"]
        assert "≥95%（2022-06-30 调整，原 ≥98%）" in render_html(ev)
