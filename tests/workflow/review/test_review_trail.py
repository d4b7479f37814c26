"""The review trail everywhere (issue 13 §1): what the unit wrote beside each row, the overall
opinions, the reasons for changed scores, the evidence with its preview, the returned banner,
the confirmation step and the live total, in each role that sees them and one that may not."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from pagehelpers import client_as, ev_id, form_values

from workflow.core.extensions import db
from workflow.models import Evaluation, Evidence, User

IN_REVIEW = "12345热线知识库建设"  # unit B, dept_review (department 1)
AT_FINANCE_A = "“互联网+监管”系统运维"  # unit A, finance_confirmation
DEVIATION = "知识库条目数未达预期：部分条目在年底尚未审核入库，下一年度按月跟踪入库进度。"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"


@pytest.fixture
def as_user(app):
    return lambda username: client_as(app, username)


def _with_deviation_and_evidence(app, project: str) -> int:
    """Give the evaluation a 偏差原因 on quantity_1 and two evidence files (a PNG, a DOCX)."""
    target = ev_id(app, project)
    with app.app_context():
        ev = db.session.get(Evaluation, target)
        entries = dict(ev.entries or {})
        entries["quantity_1"] = {**(entries.get("quantity_1") or {}), "reason": DEVIATION}
        ev.entries = entries
        unit_user = db.session.scalar(db.select(User).where(User.org_id == ev.unit_id))
        folder = Path(app.config["EVIDENCE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        for name, stored, kind, data in (
            ("现场照片.png", f"trail-{target}.png", "image/png", PNG),
            ("验收报告.pdf", f"trail-{target}.pdf", "application/pdf", PDF),
            (
                "台账.docx",
                f"trail-{target}.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                b"PK\x03\x04",
            ),
        ):
            (folder / stored).write_bytes(data)
            db.session.add(
                Evidence(
                    evaluation_id=target,
                    original_name=name,
                    stored_name=stored,
                    content_type=kind,
                    size=len(data),
                    sha256="0" * 64,
                    uploaded_by_id=unit_user.id,
                )
            )
        db.session.commit()
    return target


def _evidence_ids(app, target: int) -> dict[str, int]:
    with app.app_context():
        rows = db.session.scalars(db.select(Evidence).where(Evidence.evaluation_id == target))
        return {e.original_name: e.id for e in rows}


def test_review_page_shows_deviation_narrative_and_evidence(app, as_user):
    target = _with_deviation_and_evidence(app, IN_REVIEW)
    html = as_user("reviewer").get(f"/review/{target}").get_data(as_text=True)
    assert re.search(r'data-testid="deviation-quantity_1">[^<]*部分条目在年底尚未审核入库', html)
    assert "偏差原因分析及改进措施（单位填写）" in html
    assert 'data-testid="narrative"' in html and "主要成效" in html and "整改措施" in html
    ids = _evidence_ids(app, target)
    # PNG and PDF preview in the browser; the Word file only downloads.
    assert f"/evaluations/{target}/evidence/{ids['现场照片.png']}/view" in html
    assert f"/evaluations/{target}/evidence/{ids['验收报告.pdf']}/view" in html
    assert f"/evaluations/{target}/evidence/{ids['台账.docx']}/view" not in html
    assert "台账.docx" in html
    # The live total as first shown: the stage's own, no error claimed.
    assert 'data-testid="live-total"' in html and "有填写错误" not in html
    # The unit sees its reason on the detail page too.
    detail = as_user("unit_b").get(f"/evaluations/{target}").get_data(as_text=True)
    assert re.search(r'data-testid="deviation-quantity_1">[^<]*部分条目在年底尚未审核入库', detail)


@pytest.mark.parametrize(
    "name,kind", [("现场照片.png", "image/png"), ("验收报告.pdf", "application/pdf")]
)
def test_evidence_preview_is_inline_with_its_type(app, as_user, name, kind):
    target = _with_deviation_and_evidence(app, IN_REVIEW)
    evidence_id = _evidence_ids(app, target)[name]
    url = f"/evaluations/{target}/evidence/{evidence_id}/view"
    for user in ("reviewer", "unit_b", "finance"):
        resp = as_user(user).get(url)
        assert resp.status_code == 200, user
        assert resp.mimetype == kind
        assert resp.headers["Content-Disposition"].startswith("inline")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    # Another unit, another department's reviewer: as if it did not exist.
    for outsider in ("unit_a", "reviewer_2", "auditor"):
        assert as_user(outsider).get(url).status_code == 404, outsider


def test_evidence_preview_refuses_types_a_browser_would_not_show(app, as_user):
    target = _with_deviation_and_evidence(app, IN_REVIEW)
    evidence_id = _evidence_ids(app, target)["台账.docx"]
    assert (
        as_user("reviewer").get(f"/evaluations/{target}/evidence/{evidence_id}/view").status_code
        == 404
    )
    download = as_user("reviewer").get(f"/evaluations/{target}/evidence/{evidence_id}")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith(
        "attachment"
    )


def _approve(app, client, target, changes: dict[str, tuple[str, str]], opinion: str):
    values = form_values(client.get(f"/review/{target}").get_data(as_text=True))
    for code, (score, reason) in changes.items():
        values[f"s-{code}"], values[f"r-{code}"] = score, reason
    values["opinion"] = opinion
    confirm = client.post(f"/review/{target}", data=values)
    assert confirm.status_code == 200
    return confirm.get_data(as_text=True), client.post(
        f"/review/{target}", data={**form_values(confirm.get_data(as_text=True)), "do": "fire"}
    )


def test_approve_opinion_and_reasons_reach_finance_unit_and_pdf(app, as_user):
    target = _with_deviation_and_evidence(app, IN_REVIEW)
    page, done = _approve(
        app,
        as_user("reviewer"),
        target,
        {"quantity_1": ("9", "抽查 50 条，5 条未入库")},
        "同意报送，数量指标按抽查结果扣 1 分。",
    )
    assert "抽查 50 条，5 条未入库" in page and 'data-testid="confirm-changes"' in page
    assert done.status_code == 302
    finance = as_user("finance").get(f"/finance/{target}").get_data(as_text=True)
    # Self, department and finance's own columns side by side, with the reviewer's reason.
    assert re.search(r'data-testid="self-quantity_1">10\.00<', finance)
    assert re.search(r'data-testid="base-quantity_1">9\.00<', finance)
    assert re.search(r'data-testid="dept-reason-quantity_1">抽查 50 条，5 条未入库<', finance)
    assert 'name="s-quantity_1" value="9.00"' in finance
    assert "部分条目在年底尚未审核入库" in finance
    assert "同意报送，数量指标按抽查结果扣 1 分。" in finance  # the department's opinion
    unit = as_user("unit_b").get(f"/evaluations/{target}").get_data(as_text=True)
    assert 'data-testid="opinions"' in unit and "同意报送，数量指标按抽查结果扣 1 分。" in unit
    assert "审核意见：同意报送" in unit  # in the history
    with app.app_context():
        from workflow.documents.render import build_view, render_html

        ev = db.session.get(Evaluation, target)
        view = build_view(ev)
        assert [(a.stage, a.before, a.after, a.reason) for a in view.adjustments] == [
            ("主管部门审核", "10", "9", "抽查 50 条，5 条未入库")
        ]
        assert [o.label for o in view.opinions] == ["主管部门审核意见"]
        html = render_html(ev)
        assert DEVIATION in html and "得分调整及理由" in html and "填报单位（盖章）" in html
        assert "同意报送，数量指标按抽查结果扣 1 分。" in html


def test_confirm_goes_through_confirmation_with_opinion(app, as_user):
    target = ev_id(app, AT_FINANCE_A)
    client = as_user("finance")
    values = form_values(client.get(f"/finance/{target}").get_data(as_text=True))
    values["opinion"] = "确认定级为优。"
    page = client.post(f"/finance/{target}", data=values)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'data-testid="confirm-total"' in body and "确认定级为优。" in body
    with app.app_context():
        assert db.session.get(Evaluation, target).state == "finance_confirmation"
    done = client.post(f"/finance/{target}", data={**form_values(body), "do": "fire"})
    assert done.status_code == 302
    with app.app_context():
        ev = db.session.get(Evaluation, target)
        assert ev.state == "confirmed" and ev.final_opinion == "确认定级为优。"
    unit = as_user("unit_a").get(f"/evaluations/{target}").get_data(as_text=True)
    assert "财政确认意见" in unit and "确认定级为优。" in unit


def test_live_total_is_the_servers(app, as_user):
    target = ev_id(app, IN_REVIEW)
    client = as_user("reviewer")
    values = form_values(client.get(f"/review/{target}").get_data(as_text=True))
    with app.app_context():
        self_total = db.session.get(Evaluation, target).self_total
    values["s-quantity_1"] = "7.5"
    fragment = client.post(f"/review/{target}/total", data=values, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    text = fragment.get_data(as_text=True)
    assert f">{self_total - Decimal('2.5'):.2f}<" in text
    assert "调整 1 项" in text
    values["s-quantity_1"] = "abc"
    bad = client.post(f"/review/{target}/total", data=values).get_data(as_text=True)
    assert f">{self_total:.2f}<" in bad and "有填写错误的得分未计入" in bad
    # Only the reviewer of the department: finance, the unit, another reviewer get 404.
    for user in ("finance", "unit_b", "reviewer_2"):
        assert as_user(user).post(f"/review/{target}/total", data=values).status_code == 404
    with app.app_context():
        assert db.session.get(Evaluation, target).state == "dept_review"


def test_return_with_empty_reason_stays_on_the_review_page(app, as_user):
    target = ev_id(app, IN_REVIEW)
    client = as_user("reviewer")
    values = form_values(client.get(f"/review/{target}").get_data(as_text=True))
    values["s-quantity_1"] = "9"
    resp = client.post(
        f"/evaluations/{target}/events/return",
        data={"reason": "   ", "next": "review", "version": values["version"]},
    )
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'data-testid="stage-table"' in body  # the review page, not the detail page
    assert 'data-testid="error-return"' in body and "必须填写原因" in body


def test_returned_form_says_so_everywhere_the_unit_looks(app, as_user):
    target = ev_id(app, IN_REVIEW)
    reviewer = as_user("reviewer")
    resp = reviewer.post(
        f"/evaluations/{target}/events/return",
        data={"reason": "佐证材料缺少验收报告，请补充。", "next": "review"},
    )
    assert resp.status_code == 302
    unit = as_user("unit_b")
    detail = unit.get(f"/evaluations/{target}").get_data(as_text=True)
    assert 'data-testid="returned-banner"' in detail and "佐证材料缺少验收报告，请补充。" in detail
    edit = unit.get(f"/evaluations/{target}/edit").get_data(as_text=True)
    assert 'data-testid="returned-banner"' in edit and "佐证材料缺少验收报告，请补充。" in edit
    home = unit.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="returned-count">\s*已退回 1', home)
    assert "returned-badge" in home
    listing = unit.get("/evaluations/").get_data(as_text=True)
    assert "returned-badge" in listing and IN_REVIEW in listing
    # Another unit sees neither the form nor its badge.
    other = as_user("unit_a").get("/").get_data(as_text=True)
    assert "returned-count" not in other or re.search(r'returned-count">\s*已退回 0', other)
    assert as_user("unit_a").get(f"/evaluations/{target}").status_code == 404
    # Submitting again ends the banner.
    with app.app_context():
        assert (
            db.session.get(Evaluation, target).returned_reason == "佐证材料缺少验收报告，请补充。"
        )
