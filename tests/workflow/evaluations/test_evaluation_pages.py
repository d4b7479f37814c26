"""The unit's pages: list, form (live score, bad input, save, conflict), submit, withdraw,
detail with history, evidence and PDF."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pagehelpers import SEED, client_as, ev_id, form_values, version
from sqlalchemy import select

from tests.workflow.targets_world import approve_targets
from workflow.core.extensions import db
from workflow.models import Evaluation, PdfFile

CONFLICT = "已被他人处理，请刷新后重试"


@pytest.fixture
def as_user(app):
    def _as(username):
        return client_as(app, username)

    return _as


@pytest.fixture
def seed(app):
    return ev_id(app, SEED)


def _form(client, evaluation_id):
    resp = client.get(f"/evaluations/{evaluation_id}/edit")
    assert resp.status_code == 200
    return resp.get_data(as_text=True), form_values(resp.get_data(as_text=True))


# --- who sees what ---------------------------------------------------------------------------


def test_unit_list_shows_only_own_unit(as_user):
    body = as_user("unit_a").get("/evaluations/").get_data(as_text=True)
    assert SEED in body
    assert "政务服务中心窗口服务提升" not in body  # unit B
    assert "公共数据平台运维" not in body  # unit C
    assert "填报中" in body


@pytest.mark.parametrize(
    "user,status",
    [
        ("unit_a", 200),
        ("unit_a_head", 200),
        ("reviewer", 200),
        ("finance", 200),
        ("sysadmin", 200),
        ("unit_b", 404),
        ("unit_c", 404),
        ("reviewer_2", 404),
    ],
)
def test_detail_visibility(as_user, seed, user, status):
    resp = as_user(user).get(f"/evaluations/{seed}")
    assert resp.status_code == status
    if status == 404:
        assert SEED not in resp.get_data(as_text=True)


@pytest.mark.parametrize("user,status", [("unit_a", 200), ("unit_b", 404), ("reviewer_2", 404)])
def test_form_visibility(as_user, seed, user, status):
    assert as_user(user).get(f"/evaluations/{seed}/edit").status_code == status


def test_form_is_read_only_for_reviewer(as_user, seed):
    resp = as_user("reviewer").get(f"/evaluations/{seed}/edit")
    assert resp.status_code == 302
    assert as_user("reviewer").post(f"/evaluations/{seed}/edit", data={}).status_code == 403


# --- the form --------------------------------------------------------------------------------


def test_form_layout_like_the_paper_form(as_user, seed):
    html, values = _form(as_user("unit_a"), seed)
    assert "省级项目支出绩效自我评价表" in html
    # 决策 spans its six leaves; 效益's empty 生态效益 / 可持续影响 keep their lines.
    assert re.search(r'<td rowspan="6" class="text-center l1">决策（12分）</td>', html)
    assert re.search(r'<td rowspan="5" class="text-center l1">效益（30分）</td>', html)
    assert "生态效益" in html and "可持续影响" in html
    assert 'data-testid="total">98.50<' in html
    assert 'data-testid="grade">优<' in html
    assert values["e-decision_basis-p0"] == "达成"
    assert values["e-quantity_1-tier"] == "达成"
    assert f'hx-post="/evaluations/{seed}/preview"' in html
    assert "htmx.min.js" in html and "<script>" not in html and "style=" not in html


def test_preview_fragment_recomputes_on_the_server(as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["e-quantity_1-tier"] = "未达成"
    values["e-quantity_1-score"] = ""  # the band's default score
    resp = client.post(f"/evaluations/{seed}/preview", data=values, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "<html" not in body
    # 3 points at the top of [0, 60%) = 1.79: the total falls by 1.21.
    assert 'data-testid="total">97.29<' in body
    assert 'id="score-quantity_1" class="score-box" data-needs-reason="1"' in body
    assert 'hx-swap-oob="true"' in body
    # Nothing was saved.
    assert client.get(f"/evaluations/{seed}/edit").get_data(as_text=True).count("97.29") == 0


def test_recalculate_without_javascript(as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["e-quantity_1-tier"] = "部分达成"
    values["e-quantity_1-score"] = ""
    values["do"] = "recalc"
    resp = client.post(f"/evaluations/{seed}/edit", data=values)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert 'data-testid="total">97.89<' in body
    # The reason box is shown exactly where the score says it is needed.
    assert 'id="reason-quantity_1" class="reason-box"' in body
    assert 'id="reason-quantity_2" class="reason-box d-none"' in body


@pytest.mark.parametrize(
    "field,typed,message",
    [
        ("e-quantity_1-score", "NaN", "不是有效数值"),
        ("e-quantity_1-score", "-1", "不能为负数"),
        ("e-quantity_1-score", "3.5", "超过分值 3"),
        ("e-quantity_1-score", "abc", "不是有效数值"),
        ("e-budget_execution_rate-numerator", "-5", "不能为负数"),
        ("e-budget_execution_rate-denominator", "nan", "不是有效数值"),
        ("e-budget_execution_rate-actual", "很多", "请填写数值"),
        ("e-quantity_1-tier", "全部达成", "请选择"),
    ],
)
def test_bad_input_is_saved_as_a_draft_shown_beside_the_field_and_refused_by_submit(
    app, as_user, seed, field, typed, message
):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values[field] = typed
    values["problems"] = "我写的问题说明<script>"
    before = version(app, seed)
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"})
    assert resp.status_code == 302  # 保存草稿 keeps what was typed, valid or not
    assert version(app, seed) == before + 1
    body = client.get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    assert "草稿已保存（含 1 处填写错误" in body
    error = re.search(rf'data-testid="error-{re.escape(field)}">([^<]*)<', body)
    assert error and message in error.group(1)
    kept = form_values(body)
    if not field.endswith("-tier"):  # a select cannot show an option it does not have
        assert kept[field] == typed
    assert kept["problems"] == "我写的问题说明<script>"
    assert "我写的问题说明&lt;script&gt;" in body
    # The problem list names the row and links to it.
    code = field.split("-")[1]
    assert f'href="#row-{code}"' in body
    # Only submit refuses, with the same message.
    resp = client.post(f"/evaluations/{seed}/submit", data={"version": str(version(app, seed))})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Evaluation, seed).state == "draft"


def test_text_over_its_limit_is_not_saved_but_kept(app, as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["filled_by"] = "张" * 101
    values["measures"] = "加强运维"
    before = version(app, seed)
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "超过长度限制" in body
    assert form_values(body)["filled_by"] == "张" * 101
    assert form_values(body)["measures"] == "加强运维"
    assert version(app, seed) == before


def test_writing_the_requested_reason_on_a_published_row_creates_no_blocking_error(
    app, as_user, seed
):
    """The seed's 预算执行率 row is published at 1.5 for 部分达成 (band [1.8, 2.4)): a warning,
    with another asking for the 偏差原因分析. Writing that reason used to turn the row into
    the unit's own entry, and the warning into a blocking 「不在区间」 that could not be
    cleared. The reason is commentary, not an edit of the published score."""
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "recalc"})
    before = resp.get_data(as_text=True)
    assert "不在“部分达成”对应区间" in before
    assert "须填写偏差原因分析及改进措施" in before
    values["e-budget_execution_rate-reason"] = "部分合同尾款按约定于次年支付"
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"})
    assert resp.status_code == 302
    body = client.get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    assert 'data-testid="blocking-count"' not in body
    assert "可以提交" in body
    with app.app_context():
        entry = db.session.get(Evaluation, seed).entries["budget_execution_rate"]
        assert entry["reason"] == "部分合同尾款按约定于次年支付"
        assert entry.get("imported") is True
    # Changing the published score makes it the unit's own: then the band applies.
    values = form_values(body)
    values["e-budget_execution_rate-score"] = "1.6"
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "recalc"})
    assert resp.status_code == 200
    assert "1.6 占分值" in resp.get_data(as_text=True)
    assert 'data-testid="blocking-count"' in resp.get_data(as_text=True)


def test_actual_label_follows_the_tier(app, as_user, seed):
    client = as_user("unit_a")
    html, values = _form(client, seed)
    tier_rows = [n[2:-5] for n in values if n.endswith("-tier") and n.startswith("e-")]
    code = next(c for c in tier_rows if values[f"e-{c}-actual"] == "达成预期目标")
    values[f"e-{code}-tier"] = "部分达成"
    values[f"e-{code}-score"] = ""
    values[f"e-{code}-reason"] = "部分完成"
    assert (
        client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"}).status_code == 302
    )
    with app.app_context():
        entry = db.session.get(Evaluation, seed).entries[code]
        assert entry["tier"] == "部分达成"
        assert entry["actual"] == "部分达成并具有一定效果"
    # A text of the unit's own is never rewritten.
    _html, values = _form(client, seed)
    assert values[f"e-{code}-actual"] == "部分达成并具有一定效果"
    values[f"e-{code}-actual"] = "基本完成全年任务"
    values[f"e-{code}-tier"] = "达成"
    assert (
        client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"}).status_code == 302
    )
    with app.app_context():
        assert db.session.get(Evaluation, seed).entries[code]["actual"] == "基本完成全年任务"


@pytest.mark.parametrize("typed", ["1,234.5", "１，２３４．５", " 1234.5 "])
def test_thousands_separators_and_full_width_digits_are_accepted(app, as_user, seed, typed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["e-budget_execution_rate-numerator"] = typed
    values["e-budget_execution_rate-denominator"] = "2,469"
    values["e-budget_execution_rate-reason"] = "执行进度受招标影响"
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    body = client.get(f"/evaluations/{seed}/edit").get_data(as_text=True)
    # 1234.5 / 2469 = 50% of 3 points.
    assert re.search(r'data-testid="score-budget_execution_rate">1.50<', body)
    assert form_values(body)["e-budget_execution_rate-numerator"] == typed.strip()


def test_full_width_score(as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["e-quantity_1-score"] = "２．５"
    values["e-quantity_1-reason"] = "个别站点短时中断"
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "recalc"})
    assert resp.status_code == 200
    assert 'data-testid="score-quantity_1">2.50<' in resp.get_data(as_text=True)


def test_save_draft_keeps_entries_and_narrative(app, as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["e-quantity_2-tier"] = "部分达成"
    values["e-quantity_2-score"] = "1.5"
    values["e-quantity_2-reason"] = "旗舰店迁移期间短时不可用"
    values["filled_by"] = "张晓"
    before = version(app, seed)
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"})
    assert resp.status_code == 302
    assert version(app, seed) == before + 1
    with app.app_context():
        ev = db.session.get(Evaluation, seed)
        assert ev.entries["quantity_2"]["tier"] == "部分达成"
        assert ev.entries["quantity_2"]["reason"] == "旗舰店迁移期间短时不可用"
        assert "imported" not in ev.entries["quantity_2"]
        assert ev.entries["quantity_1"].get("imported") is True  # untouched rows stay as published


def test_stale_version_is_a_conflict_and_keeps_the_typing(app, as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["measures"] = "加强运维"
    values["version"] = str(version(app, seed) - 1 if version(app, seed) > 1 else 999)
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "save"})
    assert resp.status_code == 409
    body = resp.get_data(as_text=True)
    assert CONFLICT in body
    assert form_values(body)["measures"] == "加强运维"


# --- submit, withdraw, history ---------------------------------------------------------------


def test_submit_behind_confirmation_then_withdraw(app, as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    resp = client.post(f"/evaluations/{seed}/edit", data={**values, "do": "submit"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        f"/evaluations/{seed}/submit"
    )
    page = client.get(f"/evaluations/{seed}/submit").get_data(as_text=True)
    assert 'data-testid="total">98.50<' in page and 'data-testid="grade">优<' in page
    assert "确认提交" in page
    resp = client.post(f"/evaluations/{seed}/submit", data={"version": str(version(app, seed))})
    assert resp.status_code == 302
    with app.app_context():
        ev = db.session.get(Evaluation, seed)
        assert ev.state == "self_scored" and str(ev.self_total) == "98.50"
    detail = client.get(f"/evaluations/{seed}").get_data(as_text=True)
    assert "提交自评" in detail and "已自评（待审核）" in detail
    assert "张晓" in detail  # who, in the history
    # The unit may withdraw; the button is offered and works.
    assert f"/evaluations/{seed}/events/withdraw" in detail
    resp = client.post(
        f"/evaluations/{seed}/events/withdraw", data={"version": str(version(app, seed))}
    )
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Evaluation, seed).state == "draft"
    assert "撤回" in client.get(f"/evaluations/{seed}").get_data(as_text=True)


def test_submit_shows_blocking_problems(app, as_user, seed):
    client = as_user("unit_a")
    _html, values = _form(client, seed)
    values["e-quantity_1-tier"] = "未达成"  # below full marks: a reason is now required
    values["e-quantity_1-score"] = ""
    assert (
        client.post(f"/evaluations/{seed}/edit", data={**values, "do": "submit"}).status_code == 302
    )
    page = client.get(f"/evaluations/{seed}/submit").get_data(as_text=True)
    assert 'data-testid="blocking"' in page
    assert "偏差原因分析及改进措施" in page
    assert "确认提交</button>" not in page
    resp = client.post(f"/evaluations/{seed}/submit", data={"version": str(version(app, seed))})
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.get(Evaluation, seed).state == "draft"


def test_submit_as_other_unit_is_404(app, as_user, seed):
    assert as_user("unit_b").get(f"/evaluations/{seed}/submit").status_code == 404
    assert as_user("unit_b").post(f"/evaluations/{seed}/submit", data={}).status_code == 404


def test_submit_with_stale_version_is_409(app, as_user, seed):
    client = as_user("unit_a")
    resp = client.post(f"/evaluations/{seed}/submit", data={"version": "999"})
    assert resp.status_code == 409
    assert CONFLICT in resp.get_data(as_text=True)


def test_unknown_or_page_only_event_is_404(as_user, seed):
    client = as_user("unit_a")
    assert client.post(f"/evaluations/{seed}/events/nonsense").status_code == 404
    assert client.post(f"/evaluations/{seed}/events/approve").status_code == 404


# --- evidence --------------------------------------------------------------------------------

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(client, evaluation_id, name, content):
    return client.post(
        f"/evaluations/{evaluation_id}/evidence",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_evidence_upload_and_download(app, as_user, seed):
    client = as_user("unit_a")
    resp = _upload(client, seed, "合同<1>.pdf", PDF_BYTES)
    assert resp.status_code == 302
    detail = client.get(f"/evaluations/{seed}").get_data(as_text=True)
    assert "合同&lt;1&gt;.pdf" in detail
    link = re.search(rf'href="(/evaluations/{seed}/evidence/\d+)"', detail).group(1)
    stored = list(Path(app.config["EVIDENCE_DIR"]).iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".pdf" and "合同" not in stored[0].name
    got = client.get(link)
    assert got.status_code == 200 and got.data == PDF_BYTES
    assert "attachment" in got.headers["Content-Disposition"]
    assert as_user("reviewer").get(link).status_code == 200
    assert as_user("unit_c").get(link).status_code == 404
    assert as_user("unit_b").get(link).status_code == 404


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("run.exe", b"MZ....", "只能上传"),
        ("fake.pdf", b"<html>hello</html>", "不符"),
        ("empty.png", b"", "空"),
    ],
)
def test_evidence_refused(as_user, seed, name, content, message):
    resp = _upload(as_user("unit_a"), seed, name, content)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)


def test_oversized_upload_gets_a_friendly_413(app, as_user, seed):
    app.config["EVIDENCE_MAX_BYTES"] = 1024
    resp = _upload(as_user("unit_a"), seed, "big.pdf", b"%PDF-" + b"0" * 2048)
    assert resp.status_code == 413
    body = resp.get_data(as_text=True)
    assert "上传的文件过大" in body and "1 KB" not in body and "MB" in body
    assert list(Path(app.config["EVIDENCE_DIR"]).iterdir()) == []


def test_upload_over_the_request_limit_gets_413(app, as_user, seed):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    resp = _upload(as_user("unit_a"), seed, "big.pdf", b"%PDF-" + b"0" * 8192)
    assert resp.status_code == 413
    assert "上传的文件过大" in resp.get_data(as_text=True)


def test_evidence_upload_only_while_editable(app, as_user):
    submitted = ev_id(app, "政务服务中心窗口服务提升")
    assert _upload(as_user("unit_b"), submitted, "a.pdf", PDF_BYTES).status_code == 403
    assert _upload(as_user("unit_a"), submitted, "a.pdf", PDF_BYTES).status_code == 404


# --- PDF -------------------------------------------------------------------------------------


def test_latest_pdf_download(app, as_user, seed):
    client = as_user("unit_a")
    assert client.get(f"/evaluations/{seed}/pdf").status_code == 404
    root = Path(app.config["PDF_DIR"])
    for v, content in ((1, b"%PDF-old"), (2, b"%PDF-new")):
        (root / f"e{seed}-v{v}.pdf").write_bytes(content)
    with app.app_context():
        for v in (1, 2):
            db.session.add(
                PdfFile(
                    evaluation_id=seed, version=v, state="draft", path=f"e{seed}-v{v}.pdf", size=8
                )
            )
        db.session.commit()
    detail = client.get(f"/evaluations/{seed}").get_data(as_text=True)
    assert 'data-testid="pdf-link"' in detail and "第 2 版" in detail
    got = client.get(f"/evaluations/{seed}/pdf")
    assert got.status_code == 200 and got.data == b"%PDF-new"
    assert as_user("unit_b").get(f"/evaluations/{seed}/pdf").status_code == 404


def test_pdf_path_cannot_escape_pdf_dir(app, as_user, seed):
    with app.app_context():
        db.session.add(
            PdfFile(evaluation_id=seed, version=9, state="draft", path="../../etc/passwd", size=1)
        )
        db.session.commit()
    assert as_user("unit_a").get(f"/evaluations/{seed}/pdf").status_code == 404


def test_list_search_and_filter(as_user):
    client = as_user("finance")
    body = client.get("/evaluations/", query_string={"q": "热线"}).get_data(as_text=True)
    assert "12345热线知识库建设" in body and SEED not in body
    body = client.get("/evaluations/", query_string={"state": "confirmed"}).get_data(as_text=True)
    assert "公共数据平台运维" in body and SEED not in body
    body = client.get("/evaluations/", query_string={"q": "%"}).get_data(as_text=True)
    assert "共 0 份" in body


def test_no_evaluations_queries_per_row(app, as_user):
    """The number of statements depends on the groups of (state, cycle) the page touches,
    never on the number of rows: twice as many evaluations, the same statements."""
    from sqlalchemy import event

    from workflow.evaluations import operations
    from workflow.models import Cycle, Org, Project

    client = as_user("finance")

    def statements_for_list() -> list[str]:
        seen: list[str] = []
        with app.app_context():
            engine = db.engine

            def count(conn, cursor, statement, *args):
                seen.append(statement)

            event.listen(engine, "before_cursor_execute", count)
            try:
                assert client.get("/evaluations/").status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return [s for s in seen if "FROM evaluations" in s]

    before = statements_for_list()
    with app.app_context():
        unit = db.session.scalar(select(Org).where(Org.kind == "unit"))
        cycle = db.session.scalar(select(Cycle))
        for i in range(10):  # more drafts: the same (state, cycle) group as existing ones
            project = Project(unit=unit, name=f"新增项目{i}")
            approve_targets(project, cycle)
            operations.create_evaluation(project, cycle)
        db.session.commit()
    after = statements_for_list()
    assert len(after) == len(before), (before, after)
    # counts per group, one read per group the page touches (5 states here), the rows shown
    assert len(before) <= 2 + 5, before
