"""The department review and the finance confirmation pages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from pagehelpers import SEED, client_as, ev_id, form_values, version

from workflow.core.extensions import db
from workflow.models import AuditLog, Evaluation

CONFLICT = "已被他人处理，请刷新后重试"
# Each demo project has its own targets: in IN_REVIEW quantity_1 is 知识库条目数 (10 points,
# met) and social_1 热线一次性答复率提升 (15); in AT_FINANCE_A social_1 is 监管效能提升 (15).
IN_REVIEW = "12345热线知识库建设"  # unit B, dept_review
SUBMITTED = "政务服务中心窗口服务提升"  # unit B, self_scored
AT_FINANCE_A = "“互联网+监管”系统运维"  # unit A, finance_confirmation
AT_FINANCE_B = "政务服务事项标准化"  # unit B, finance_confirmation
CONFIRMED = "公共数据平台运维"  # unit C, confirmed


@pytest.fixture
def as_user(app):
    def _as(username):
        return client_as(app, username)

    return _as


def _state(app, evaluation_id):
    with app.app_context():
        return db.session.get(Evaluation, evaluation_id).state


# --- review queue ----------------------------------------------------------------------------


def test_review_queue_lists_own_department_by_default_states(as_user):
    body = as_user("reviewer").get("/review/").get_data(as_text=True)
    assert IN_REVIEW in body and SUBMITTED in body
    assert SEED not in body  # draft: not waiting for review
    assert CONFIRMED not in body  # another department
    other = as_user("reviewer_2").get("/review/", query_string={"state": ""}).get_data(as_text=True)
    assert CONFIRMED in other and IN_REVIEW not in other


def test_review_queue_filters_and_search(app, as_user):
    client = as_user("reviewer")
    body = client.get("/review/", query_string={"state": "dept_review"}).get_data(as_text=True)
    assert IN_REVIEW in body and SUBMITTED not in body
    body = client.get("/review/", query_string={"state": "", "q": "热线"}).get_data(as_text=True)
    assert IN_REVIEW in body and SUBMITTED not in body
    with app.app_context():
        unit_a = db.session.get(Evaluation, ev_id(app, SEED)).unit_id
    body = client.get("/review/", query_string={"state": "", "unit": unit_a}).get_data(as_text=True)
    assert SEED in body and IN_REVIEW not in body


# --- review page -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user,status", [("reviewer", 200), ("reviewer_2", 404), ("unit_b", 404), ("finance", 404)]
)
def test_review_page_visibility(app, as_user, user, status):
    assert as_user(user).get(f"/review/{ev_id(app, IN_REVIEW)}").status_code == status


def test_start_review_from_the_review_page(app, as_user):
    target = ev_id(app, SUBMITTED)
    client = as_user("reviewer")
    page = client.get(f"/review/{target}").get_data(as_text=True)
    assert f"/evaluations/{target}/events/start_review" in page
    assert 'name="s-' not in page  # no score inputs before the review starts
    resp = client.post(
        f"/evaluations/{target}/events/start_review",
        data={"version": str(version(app, target)), "next": "review"},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/review/{target}")
    assert _state(app, target) == "dept_review"
    assert 'name="s-' in client.get(f"/review/{target}").get_data(as_text=True)


def _review_values(client, target):
    html = client.get(f"/review/{target}").get_data(as_text=True)
    return html, form_values(html)


def test_review_side_by_side_and_change_needs_reason(app, as_user):
    target = ev_id(app, IN_REVIEW)
    client = as_user("reviewer")
    html, values = _review_values(client, target)
    assert "自评得分" in html and "审核得分" in html
    assert values["s-quantity_1"] == "10.00"
    values["s-quantity_1"] = "9.5"
    resp = client.post(f"/review/{target}", data=values)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert re.search(r'data-testid="error-r-quantity_1">调整得分须填写理由<', body)
    assert form_values(body)["s-quantity_1"] == "9.5"
    assert _state(app, target) == "dept_review"
    values["r-quantity_1"] = "抽查发现部分条目未审核入库"
    values["opinion"] = "同意，数量指标按抽查结果扣减。"
    # First the confirmation page: the new total and grade, nothing recorded yet.
    resp = client.post(f"/review/{target}", data=values)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    with app.app_context():
        expected = db.session.get(Evaluation, target).self_total - Decimal("0.5")
    assert re.search(rf'data-testid="confirm-total"><span class="fs-4">{expected:.2f}<', page)
    assert "抽查发现部分条目未审核入库" in page and "同意，数量指标按抽查结果扣减。" in page
    assert _state(app, target) == "dept_review"
    # 返回修改 keeps everything typed.
    back = client.post(f"/review/{target}", data={**values, "do": "back"})
    assert (
        back.status_code == 200
        and form_values(back.get_data(as_text=True))["s-quantity_1"] == "9.5"
    )
    resp = client.post(f"/review/{target}", data={**form_values(page), "do": "fire"})
    assert resp.status_code == 302
    with app.app_context():
        ev = db.session.get(Evaluation, target)
        assert ev.state == "finance_confirmation"
        row = next(r for r in ev.rows if r.code == "quantity_1")
        assert str(row.self_score) == "10.00" and str(row.dept_score) == "9.50"
        assert row.dept_reason == "抽查发现部分条目未审核入库"
        assert ev.dept_total == ev.self_total - Decimal("0.5")
        assert ev.dept_opinion == "同意，数量指标按抽查结果扣减。"
    detail = client.get(f"/evaluations/{target}").get_data(as_text=True)
    assert "审核通过" in detail and "10.00 → 9.50" in detail
    assert "抽查发现部分条目未审核入库" in detail
    assert "审核意见：同意，数量指标按抽查结果扣减。" in detail


@pytest.mark.parametrize(
    "typed,message",
    [
        ("NaN", "不是有效数值"),
        ("-1", "不能为负数"),
        ("10.01", "超过分值 10"),
        ("inf", "不是有效数值"),
    ],
)
def test_review_bad_scores(app, as_user, typed, message):
    target = ev_id(app, IN_REVIEW)
    client = as_user("reviewer")
    _html, values = _review_values(client, target)
    values["s-quantity_1"] = typed
    values["r-quantity_1"] = "理由"
    resp = client.post(f"/review/{target}", data=values)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    error = re.search(r'data-testid="error-s-quantity_1">([^<]*)<', body)
    assert error and message in error.group(1)
    kept = form_values(body)
    assert kept["s-quantity_1"] == typed and kept["r-quantity_1"] == "理由"


def test_review_full_width_and_separators(app, as_user):
    target = ev_id(app, IN_REVIEW)
    client = as_user("reviewer")
    _html, values = _review_values(client, target)
    values["s-social_1"] = "１４．５"
    values["r-social_1"] = "效益证明材料不足"
    assert client.post(f"/review/{target}", data={**values, "do": "fire"}).status_code == 302
    with app.app_context():
        row = next(r for r in db.session.get(Evaluation, target).rows if r.code == "social_1")
        assert str(row.dept_score) == "14.50"


def test_review_stale_version_is_409(app, as_user):
    target = ev_id(app, IN_REVIEW)
    client = as_user("reviewer")
    _html, values = _review_values(client, target)
    values["version"] = str(int(values["version"]) - 1)
    resp = client.post(f"/review/{target}", data={**values, "do": "fire"})
    assert resp.status_code == 409
    assert CONFLICT in resp.get_data(as_text=True)
    assert _state(app, target) == "dept_review"


def test_return_to_unit_requires_a_reason(app, as_user):
    target = ev_id(app, IN_REVIEW)
    client = as_user("reviewer")
    resp = client.post(f"/evaluations/{target}/events/return", data={"reason": "  "})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'data-testid="error-return"' in body and "必须填写原因" in body
    resp = client.post(
        f"/evaluations/{target}/events/return", data={"reason": "佐证材料不全<b>", "next": "review"}
    )
    assert resp.status_code == 302
    assert _state(app, target) == "draft"
    with app.app_context():
        log = db.session.query(AuditLog).filter_by(evaluation_id=target, event="return").one()
        assert log.reason == "佐证材料不全<b>"
    detail = as_user("unit_b").get(f"/evaluations/{target}").get_data(as_text=True)
    assert "佐证材料不全&lt;b&gt;" in detail and "退回单位" in detail


def test_unit_cannot_approve_or_return(app, as_user):
    target = ev_id(app, IN_REVIEW)
    assert as_user("unit_b").post(f"/review/{target}", data={}).status_code == 404
    resp = as_user("unit_b").post(f"/evaluations/{target}/events/return", data={"reason": "x"})
    assert resp.status_code == 403
    assert _state(app, target) == "dept_review"


# --- finance ---------------------------------------------------------------------------------


def test_finance_queue(as_user):
    body = as_user("finance").get("/finance/").get_data(as_text=True)
    assert AT_FINANCE_A in body and AT_FINANCE_B in body
    assert IN_REVIEW not in body and SEED not in body


@pytest.mark.parametrize(
    "user,status", [("finance", 200), ("reviewer", 404), ("unit_a", 404), ("sysadmin", 404)]
)
def test_confirm_page_visibility(app, as_user, user, status):
    assert as_user(user).get(f"/finance/{ev_id(app, AT_FINANCE_A)}").status_code == status


def test_confirm_with_final_scores(app, as_user):
    target = ev_id(app, AT_FINANCE_A)
    client = as_user("finance")
    html = client.get(f"/finance/{target}").get_data(as_text=True)
    assert "审核得分" in html and "确认得分" in html
    values = form_values(html)
    values["s-social_1"] = "8"
    resp = client.post(f"/finance/{target}", data=values)
    assert resp.status_code == 422
    assert "调整得分须填写理由" in resp.get_data(as_text=True)
    values["r-social_1"] = "抽查复核扣减"
    resp = client.post(f"/finance/{target}", data=values)
    assert resp.status_code == 200 and 'data-testid="confirm-fire"' in resp.get_data(as_text=True)
    assert _state(app, target) == "finance_confirmation"
    resp = client.post(f"/finance/{target}", data={**values, "do": "fire"})
    assert resp.status_code == 302
    with app.app_context():
        ev = db.session.get(Evaluation, target)
        assert ev.state == "confirmed"
        row = next(r for r in ev.rows if r.code == "social_1")
        assert str(row.final_score) == "8.00" and row.final_reason == "抽查复核扣减"
        assert ev.final_total == ev.dept_total - 7  # 15 → 8


def test_finance_return_and_reopen(app, as_user):
    client = as_user("finance")
    target = ev_id(app, AT_FINANCE_B)
    resp = client.post(f"/evaluations/{target}/events/finance_return", data={"reason": ""})
    assert resp.status_code == 400
    resp = client.post(
        f"/evaluations/{target}/events/finance_return", data={"reason": "得分依据不足"}
    )
    assert resp.status_code == 302 and _state(app, target) == "dept_review"
    confirmed = ev_id(app, CONFIRMED)
    resp = client.post(f"/evaluations/{confirmed}/events/reopen", data={"reason": "复核发现错误"})
    assert resp.status_code == 302 and _state(app, confirmed) == "finance_confirmation"


def test_bulk_confirm_shows_selection_then_each_result(app, as_user):
    client = as_user("finance")
    a, b = ev_id(app, AT_FINANCE_A), ev_id(app, AT_FINANCE_B)
    va, vb = version(app, a), version(app, b)
    resp = client.post("/finance/bulk", data={"ids": [str(a), str(b)], f"v-{a}": va, f"v-{b}": vb})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    for name in (
        AT_FINANCE_A,
        AT_FINANCE_B,
        "江苏省政务服务管理办公室（机关）",
        "江苏省政务服务中心",
    ):
        assert name in page
    assert "确认这 2 份" in page
    assert _state(app, a) == "finance_confirmation"  # nothing done yet
    values = form_values(page)
    # Someone else moves B in the meantime: B fails with a conflict, A is still confirmed.
    client2 = as_user("finance")
    client2.post(f"/evaluations/{b}/events/finance_return", data={"reason": "退回核实"})
    resp = client.post(
        "/finance/bulk/confirm",
        data={"ids": [str(a), str(b)], **{k: v for k, v in values.items() if k.startswith("v-")}},
    )
    # Redirect after POST: the result is a page of its own.
    assert resp.status_code == 303
    result_url = resp.headers["Location"]
    body = client.get(result_url).get_data(as_text=True)
    assert "成功 1 份，未成功 1 份" in body
    item_b = re.search(rf'data-testid="bulk-item-{b}">(.*?)</tr>', body, re.S).group(1)
    assert CONFLICT in item_b
    assert _state(app, a) == "confirmed" and _state(app, b) == "dept_review"
    # Reloading the result shows the same, and confirms nothing again (no audit row more).
    with app.app_context():
        before = db.session.query(AuditLog).filter_by(event="confirm").count()
    again = client.get(result_url).get_data(as_text=True)
    assert "成功 1 份，未成功 1 份" in again
    item_a = re.search(rf'data-testid="bulk-item-{a}">(.*?)</tr>', again, re.S).group(1)
    assert "已确认定级" in item_a
    with app.app_context():
        assert db.session.query(AuditLog).filter_by(event="confirm").count() == before
    # Only finance reads result pages; the reviewer's is a 404 and shows no names.
    assert as_user("reviewer").get(result_url).status_code == 404


def test_bulk_selection_ignores_what_finance_may_not_confirm(app, as_user):
    client = as_user("finance")
    seed = ev_id(app, SEED)
    page = client.post("/finance/bulk", data={"ids": [str(seed)]}).get_data(as_text=True)
    assert "不能确认" in page and "确认这" not in page
    assert as_user("reviewer").post("/finance/bulk", data={"ids": [str(seed)]}).status_code == 404
    assert (
        as_user("reviewer").post("/finance/bulk/confirm", data={"ids": [str(seed)]}).status_code
        == 404
    )
