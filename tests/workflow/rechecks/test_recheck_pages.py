"""抽查复核 through the pages: batches, the expert's view, re-checking with reasons, 409 on a
race, the unit's answer, notices, the report, budget advice, 整改 items, the public bundle."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import login
from tests.workflow.helpers import user
from workflow.auth import operations as auth_ops
from workflow.core.extensions import db
from workflow.models import (
    AuditLog,
    Evaluation,
    Notice,
    Org,
    OutboxMessage,
    Project,
    RecheckBatch,
    RecheckItem,
    Rectification,
    ReminderClaim,
    User,
)


def _items(app: Flask) -> dict[str, RecheckItem]:
    with app.app_context():
        items = db.session.scalars(select(RecheckItem).order_by(RecheckItem.id)).all()
        out = {i.evaluation.project.name: i for i in items}
        for i in items:
            db.session.expunge(i)
        return out


def _item(app: Flask, item_id: int) -> RecheckItem:
    with app.app_context():
        item = db.session.get(RecheckItem, item_id)
        db.session.expunge(item)
        return item


def _new_user(app: Flask, username: str, role: str, org_name: str) -> None:
    with app.app_context():
        org = db.session.scalar(select(Org).where(Org.name == org_name))
        u = User(username=username, name=f"专家{username}", role=role, org=org)
        db.session.add(u)
        u.set_password("demo-pass-2024")
        auth_ops.enrol_directly(u)
        db.session.commit()


def test_the_demo_batch(app: Flask) -> None:
    items = _items(app)
    assert len(items) == 5
    done = items["公共数据平台运维"]
    assert (done.state, done.recheck_grade) == ("done", "差")
    assert "调整为「差」" in done.conclusion and "佐证材料不足" in done.conclusion
    assert items["“互联网+监管”系统运维"].state == "awaiting_evidence"
    with app.app_context():
        audit = db.session.scalar(select(AuditLog).where(AuditLog.event == "recheck_batch"))
        assert "种子 20221231" in audit.reason and audit.scores["method"] == "risk"
        ev = db.session.get(Evaluation, done.evaluation_id)
        # The fourth column never overwrites the three others.
        assert (ev.final_grade, ev.state) == ("中", "confirmed")


def test_same_seed_same_sample_and_the_audit_says_so(app: Flask) -> None:
    client = app.test_client()
    login(client, "finance")
    with app.app_context():
        cycle_id = db.session.scalar(select(RecheckBatch.cycle_id))
    form = {"cycle_id": str(cycle_id), "method": "uniform", "size_kind": "count", "count": "2"}
    samples = []
    for _ in range(2):
        resp = client.post("/rechecks/batches", data={**form, "seed": "424242", "name": "再抽"})
        assert resp.status_code == 302
        batch_id = int(resp.headers["Location"].rsplit("/", 1)[1])
        with app.app_context():
            samples.append(
                sorted(
                    db.session.scalars(
                        select(RecheckItem.evaluation_id).where(RecheckItem.batch_id == batch_id)
                    )
                )
            )
    assert samples[0] == samples[1] and len(samples[0]) == 2
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.event == "recheck_batch").order_by(AuditLog.id)
        ).all()
        assert [r.scores["seed"] for r in rows[-2:]] == [424242, 424242]
        assert all(r.scores["evaluations"] == samples[0] for r in rows[-2:])
    page = client.get(f"/rechecks/batches/{batch_id}").get_data(as_text=True)
    assert "种子 424242" in page and "简单随机" in page


def test_bad_batch_input_is_shown_again(app: Flask) -> None:
    client = app.test_client()
    login(client, "finance")
    resp = client.post(
        "/rechecks/batches",
        data={"cycle_id": "1", "method": "risk", "size_kind": "rate", "rate": "十", "seed": "x1"},
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "抽样比例“十”不是数字" in page and "随机种子须为非负整数" in page
    assert 'value="十"' in page and 'value="x1"' in page


def test_the_expert_sees_only_what_is_assigned(app: Flask) -> None:
    items = _items(app)
    _new_user(app, "expert_b", "expert", "江苏省财政厅")
    client = app.test_client()
    login(client, "expert_b")
    assert "没有复核事项" in client.get("/rechecks/").get_data(as_text=True)
    any_item = next(iter(items.values()))
    assert client.get(f"/rechecks/items/{any_item.id}").status_code == 404
    assert (
        client.post(f"/rechecks/items/{any_item.id}", data={"action": "start"}).status_code == 404
    )
    assert client.get(f"/evaluations/{any_item.evaluation_id}").status_code == 404
    assert client.get("/rechecks/results").status_code == 404
    client = app.test_client()
    login(client, "expert")
    page = client.get("/rechecks/").get_data(as_text=True)
    assert page.count('data-testid="risk-badge"') >= 1 and "公共数据平台运维" in page
    assert client.get(f"/rechecks/items/{any_item.id}").status_code == 200
    assert client.get(f"/evaluations/{any_item.evaluation_id}").status_code == 404


def test_an_expert_of_the_unit_or_its_department_is_refused(app: Flask) -> None:
    items = _items(app)
    _new_user(app, "expert_d1", "expert", "江苏省政务服务中心")  # a unit of department 1
    with app.app_context():
        expert = db.session.scalar(select(User.id).where(User.username == "expert_d1"))
    client = app.test_client()
    login(client, "finance")
    own = items["政务服务事项标准化"]  # unit B, department 1
    other = items["公共数据平台运维"]  # unit C, department 2 (done: cannot be re-assigned)
    resp = client.post(
        f"/rechecks/items/{own.id}/assign",
        data={"rechecker_id": str(expert), "version": str(own.version)},
        follow_redirects=True,
    )
    assert "须回避" in resp.get_data(as_text=True)
    assert _item(app, own.id).rechecker_id == user_id(app, "expert")
    page = client.get(f"/rechecks/batches/{own.batch_id}").get_data(as_text=True)
    assert "专家expert_d1" not in page.split("政务服务事项标准化", 1)[1].split("</tr>", 1)[0]
    del other


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return int(user(username).id)


def _start(client, item: RecheckItem) -> int:
    resp = client.post(
        f"/rechecks/items/{item.id}", data={"action": "start", "version": str(item.version)}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return item.version + 1


def test_a_changed_score_needs_its_reason_and_the_typed_values_stay(app: Flask) -> None:
    item = _items(app)["政务服务事项标准化"]
    client = app.test_client()
    login(client, "expert")
    version = _start(client, item)
    with app.app_context():
        ev = db.session.get(Evaluation, item.evaluation_id)
        row = next(r for r in ev.rows if r.applicable and r.self_score and r.self_score >= 5)
        code, self_score, before = row.code, row.self_score, (ev.self_total, ev.dept_total)
    lowered = str(self_score - 5)
    data = {"action": "complete", "version": str(version), f"score-{code}": lowered}
    resp = client.post(f"/rechecks/items/{item.id}", data=data)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "须填写理由" in page and f'value="{lowered}"' in page
    data[f"reason-{code}"] = "满意度调查样本不足"
    assert client.post(f"/rechecks/items/{item.id}", data=data).status_code == 302
    done = _item(app, item.id)
    assert done.state == "done" and done.recheck_total is not None
    with app.app_context():
        ev = db.session.get(Evaluation, item.evaluation_id)
        assert (ev.self_total, ev.dept_total) == before
        assert done.recheck_total == before[0] - 5
        audit = db.session.scalar(
            select(AuditLog)
            .where(AuditLog.event == "recheck_complete")
            .order_by(AuditLog.id.desc())
        )
        assert audit.scores["changes"][0]["reason"] == "满意度调查样本不足"


def test_two_people_at_once_the_second_gets_409(app: Flask) -> None:
    item = _items(app)["政务服务事项标准化"]
    one, two = app.test_client(), app.test_client()
    login(one, "expert")
    login(two, "finance")
    stale = str(item.version)
    assert (
        one.post(
            f"/rechecks/items/{item.id}", data={"action": "start", "version": stale}
        ).status_code
        == 302
    )
    with app.app_context():
        expert = user("expert").id
    resp = two.post(
        f"/rechecks/items/{item.id}/assign", data={"rechecker_id": str(expert), "version": stale}
    )
    assert resp.status_code == 409 and "已被他人处理" in resp.get_data(as_text=True)


def test_the_unit_answers_on_its_page_and_is_told_the_result(app: Flask) -> None:
    item = _items(app)["“互联网+监管”系统运维"]
    client = app.test_client()
    login(client, "unit_b")
    assert client.post(f"/rechecks/items/{item.id}/answer", data={"answer": "x"}).status_code == 404
    client = app.test_client()
    login(client, "unit_a")
    page = client.get(f"/evaluations/{item.evaluation_id}").get_data(as_text=True)
    assert "请补充系统运维合同验收报告" in page and 'data-testid="evidence-request"' in page
    with app.app_context():
        request_id = db.session.scalar(select(func.max(RecheckItem.id)))  # noqa: F841
    empty = client.post(
        f"/rechecks/items/{item.id}/answer",
        data={"answer": " ", "version": str(item.version)},
        follow_redirects=True,
    )
    assert "必须填写内容" in empty.get_data(as_text=True)
    resp = client.post(
        f"/rechecks/items/{item.id}/answer",
        data={"answer": "验收报告已上传。", "version": str(item.version)},
    )
    assert resp.status_code == 302
    assert _item(app, item.id).state == "checking"
    # Notices: the outbox rows become notices (here by hand: no worker runs in these tests).
    from workflow.notices.operations import handle_notify

    with app.app_context():
        ids = list(
            db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.done_at.is_(None)))
        )
    with app.app_context():
        for message_id in ids:
            handle_notify(message_id)
        expert_notices = db.session.scalars(
            select(Notice.title).where(Notice.user_id == user("expert").id)
        ).all()
        assert any("单位已提交补充说明" in t for t in expert_notices)
        unit_c = db.session.scalars(
            select(Notice.body).where(Notice.user_id == user("unit_c").id, Notice.kind.like("rm%"))
        ).all()
        reviewer_2 = db.session.scalars(
            select(Notice.body).where(
                Notice.user_id == user("reviewer_2").id, Notice.kind.like("rm%")
            )
        ).all()
        assert any("调整为「差」" in b for b in unit_c) and any(
            "调整为「差」" in b for b in reviewer_2
        )
        # A second hand-out of the same messages creates nothing twice.
        count = db.session.scalar(select(func.count()).select_from(Notice))
        for message_id in ids:
            handle_notify(message_id)
        assert db.session.scalar(select(func.count()).select_from(Notice)) == count


def test_the_deviation_report_and_its_workbook(app: Flask) -> None:
    client = app.test_client()
    login(client, "finance")
    batch_id = _items(app)["公共数据平台运维"].batch_id
    page = client.get(f"/rechecks/batches/{batch_id}/report").get_data(as_text=True)
    assert 'data-testid="deviation-chart"' in page and "12.00" in page and "100.0%" in page
    resp = client.get(f"/rechecks/batches/{batch_id}/report.xlsx")
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["概况", "等级矩阵", "单位偏差", "指标偏差", "明细"]
    assert wb["概况"]["C2"].value == 12.0
    assert [c.value for c in wb["等级矩阵"][4]] == ["中", 0, 0, 0, 1]
    client = app.test_client()
    login(client, "reviewer")
    assert client.get(f"/rechecks/batches/{batch_id}/report").status_code == 404


def test_budget_advice_by_final_grade_edited_with_a_reason(app: Flask) -> None:
    client = app.test_client()
    login(client, "finance")
    page = client.get("/rechecks/results").get_data(as_text=True)
    done = _items(app)["公共数据平台运维"]
    cell = re.search(rf'data-testid="advice-{done.evaluation_id}">([^<]*)<', page)
    assert cell and cell.group(1) == "压减 30%"  # 复核 差 overrides the confirmed 中
    url = f"/rechecks/results/{done.evaluation_id}/advice"
    no_reason = client.post(url, data={"advice": "suspend", "reason": ""}, follow_redirects=True)
    assert "须填写理由" in no_reason.get_data(as_text=True)
    client.post(url, data={"advice": "suspend", "reason": "连续两年绩效差"})
    page = client.get("/rechecks/results").get_data(as_text=True)
    assert "暂停" in page and "连续两年绩效差" in page
    wb = load_workbook(io.BytesIO(client.get("/rechecks/advice.xlsx").data))
    rows = list(wb["预算安排建议"].values)
    mine = next(r for r in rows if r[0] == "公共数据平台运维")
    assert mine[5] == "差" and mine[6] == "抽查复核" and mine[7] == "暂停"


def test_rectification_items_are_reminded_until_closed(app: Flask) -> None:
    from workflow.rechecks import rectify

    with app.app_context():
        ev = db.session.scalar(
            select(Evaluation).join(Project).where(Project.name == "公共数据平台运维")
        )
        ev.problems = "1. 绩效目标细化不足；2. 满意度调查样本偏少"
        ev.measures = "1. 细化量化指标；2. 扩大调查样本"
        cycle_id = ev.cycle_id
        db.session.commit()
    client = app.test_client()
    login(client, "finance")
    client.post("/rechecks/rectifications/generate", data={"cycle": str(cycle_id)})
    with app.app_context():
        items = db.session.scalars(select(Rectification).order_by(Rectification.id)).all()
        assert [(i.problem, i.measure) for i in items] == [
            ("绩效目标细化不足", "细化量化指标"),
            ("满意度调查样本偏少", "扩大调查样本"),
        ]
        due = items[0].due_on
        ids = [i.id for i in items]
        assert len(rectify.remind(due - timedelta(days=3))) == 2
        assert rectify.remind(due - timedelta(days=2)) == []  # once per interval
        claims = db.session.scalar(
            select(func.count()).select_from(ReminderClaim).where(ReminderClaim.stage == "rectify")
        )
        assert claims == 2
    client = app.test_client()
    login(client, "unit_c")
    page = client.get("/rechecks/rectifications").get_data(as_text=True)
    assert "绩效目标细化不足" in page
    first = ids[0]
    client.post(f"/rechecks/rectifications/{first}/close", data={"note": "已细化"})
    client = app.test_client()
    login(client, "unit_a")
    assert (
        client.post(f"/rechecks/rectifications/{ids[1]}/close", data={"note": "x"}).status_code
        == 404
    )
    with app.app_context():
        assert db.session.get(Rectification, first).state == "closed"
        assert len(rectify.remind(due + timedelta(days=30))) == 1  # only the open one, overdue
    client = app.test_client()
    login(client, "reviewer_2")
    dash = client.get("/dashboard/").get_data(as_text=True)
    assert 'data-testid="rectify-counts"' in dash


def _personal(app: Flask) -> list[str]:
    with app.app_context():
        names = list(db.session.scalars(select(User.name)))
        for ev in db.session.scalars(select(Evaluation)):
            names += [ev.filled_by, ev.unit_head]
        return [n for n in names if n and len(n) >= 2]


def test_the_public_bundle_holds_no_personal_field(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        ev = db.session.scalar(select(Evaluation).where(Evaluation.state == "confirmed"))
        ev.main_results = (
            "项目负责人刘洋（电话 13812345678，liuyang@example.gov.cn）组织实施，效果良好。"
        )
        ev.unit_head = "钱大壮"
        db.session.commit()
    # Asked for on the page, built by the worker's task (called here), downloaded.
    from tests.workflow.rechecks.bundle_helpers import build_by_worker

    client = app.test_client()
    login(client, "finance")
    resp = build_by_worker(app, client)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    texts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        names = zf.namelist()
        assert any(n.endswith(".pdf") for n in names) and "绩效自评结果汇总.xlsx" in names
        for name in names:
            data = zf.read(name)
            if name.endswith(".pdf"):
                path = tmp_path / "f.pdf"
                path.write_bytes(data)
                texts.append(
                    subprocess.run(
                        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
                    ).stdout
                )
            elif name.endswith(".xlsx"):
                wb = load_workbook(io.BytesIO(data))
                texts.append(
                    " ".join(str(c) for row in wb.active.values for c in row if c is not None)
                )
            else:
                texts.append(data.decode("utf-8"))
    everything = "\n".join(texts)
    assert "公共数据平台运维" in everything and "效果良好" in everything
    for person in _personal(app) + ["钱大壮"]:
        assert person not in everything, person
    assert not re.search(r"1[3-9]\d{9}|@|025-0", everything)
    assert "填报人" not in everything and "联系电话" not in everything


def test_the_expert_downloads_the_evidence_of_its_item_only(app: Flask) -> None:
    from workflow.models import Evidence

    item = _items(app)["公共数据平台运维"]
    evidence_dir = Path(app.config["EVIDENCE_DIR"])
    evidence_dir.mkdir(parents=True, exist_ok=True)
    (evidence_dir / "probe-recheck.pdf").write_bytes(b"%PDF-1.4 probe")
    with app.app_context():
        unit_c = user("unit_c")
        evidence = Evidence(
            evaluation_id=item.evaluation_id,
            original_name="验收报告.pdf",
            stored_name="probe-recheck.pdf",
            content_type="application/pdf",
            size=14,
            sha256="0" * 64,
            uploaded_by_id=unit_c.id,
        )
        db.session.add(evidence)
        db.session.commit()
        evidence_id = evidence.id
    client = app.test_client()
    login(client, "expert")
    page = client.get(f"/rechecks/items/{item.id}").get_data(as_text=True)
    assert "验收报告.pdf" in page
    resp = client.get(f"/rechecks/items/{item.id}/evidence/{evidence_id}")
    assert resp.status_code == 200 and resp.data == b"%PDF-1.4 probe"
    other = _items(app)["政务服务事项标准化"]
    assert client.get(f"/rechecks/items/{other.id}/evidence/{evidence_id}").status_code == 404


def test_the_whole_round_on_both_databases(any_app: Flask) -> None:
    """Batch, re-check, report, advice, 整改 and the dashboard on SQLite and PostgreSQL."""
    app = any_app
    with app.app_context():
        cycle_id = db.session.scalar(select(RecheckBatch.cycle_id))
    finance = app.test_client()
    login(finance, "finance")
    resp = finance.post(
        "/rechecks/batches",
        data={"cycle_id": str(cycle_id), "method": "grade", "size_kind": "rate", "rate": "60",
              "seed": "9", "name": "两库"},
    )  # fmt: skip
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    batch_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        item = db.session.scalar(
            select(RecheckItem).where(RecheckItem.batch_id == batch_id).order_by(RecheckItem.id)
        )
        expert_id, item_id, version = user("expert").id, item.id, item.version
    assert (
        finance.post(
            f"/rechecks/items/{item_id}/assign",
            data={"rechecker_id": str(expert_id), "version": str(version)},
        ).status_code
        == 302
    )
    expert = app.test_client()
    login(expert, "expert")
    for action in ("start", "complete"):
        version = _item(app, item_id).version
        resp = expert.post(
            f"/rechecks/items/{item_id}", data={"action": action, "version": str(version)}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert _item(app, item_id).state == "done"
    assert finance.get(f"/rechecks/batches/{batch_id}/report").status_code == 200
    assert finance.get(f"/rechecks/batches/{batch_id}/report.xlsx").status_code == 200
    assert finance.get("/rechecks/results").status_code == 200
    finance.post("/rechecks/rectifications/generate", data={"cycle": str(cycle_id)})
    assert 'data-testid="rectify-counts"' in finance.get("/dashboard/").get_data(as_text=True)
    assert 'data-testid="queue-risks"' in finance.get(
        "/finance/?states=finance_confirmation&states=confirmed"
    ).get_data(as_text=True)


def test_beat_keeps_the_risk_facts_current(app: Flask) -> None:
    from workflow.models import RiskFacts
    from workflow.rechecks.tasks import refresh_facts

    with app.app_context():
        db.session.execute(RiskFacts.__table__.delete())
        db.session.commit()
        assert refresh_facts.run() == 5  # every submitted evaluation of the demo
        assert refresh_facts.run() == 0  # nothing moved since
        ev = db.session.scalar(select(Evaluation).where(Evaluation.state == "self_scored"))
        assert db.session.get(RiskFacts, ev.id).evaluation_version == ev.version
