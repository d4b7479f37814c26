"""`flask import-forms`: folders, ZIPs and files read, scored, stored per unit, reported;
the same file is stored once; what did not match is listed; every file leaves an audit row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.workflow.bulk.bulk_helpers import (
    KNOWN_UNITS,
    SHARED_UNITS,
    UNKNOWN_UNIT,
    central_cycle,
    generated_form,
    shared_folder,
    zip_of,
)
from workflow.bulk import operations, report
from workflow.bulk.sources import SourceError, expand_upload
from workflow.core.extensions import db
from workflow.models import (
    AuditLog,
    BulkImport,
    BulkImportFile,
    Evaluation,
    OutboxMessage,
    SecurityEvent,
    TargetSet,
)


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["import-forms", *args])


def _report(stem: Path) -> dict[str, Any]:
    return json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))


def _by_file(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in data["forms"]:
        rows.setdefault(row["file"], []).append(row)
    return rows


@pytest.fixture
def cycle_id(app: Flask) -> int:
    with app.app_context():
        return central_cycle()


def test_a_folder_and_a_zip_into_a_cycle(app: Flask, cycle_id: int, tmp_path: Path) -> None:
    folder = shared_folder(tmp_path)
    archive = zip_of(
        tmp_path,
        {
            "江苏/热线知识库.txt": generated_form(KNOWN_UNITS[1], "热线知识库", 100).encode(
                "gb18030"
            ),
            "江苏/说明.txt": "这不是自评表，只有一行说明。".encode(),
        },
    )
    stem = tmp_path / "out" / "report"
    result = run(
        app, str(folder), str(archive), "--cycle", str(cycle_id), "--as", "finance",
        "--report", str(stem),
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "保存 5 张" in result.output, result.output
    data = _report(stem)
    rows = _by_file(data)
    # Every shared form read as its README says, the two forms of the Putuo file apart.
    putuo = rows["forms/putuo_tiyu_2022_two_forms.txt"]
    assert [(r["form"], r["computed_total"], r["grade"]) for r in putuo] == [
        ("1/2", "98.62", "优"),
        ("2/2", "4.52", None),
    ]
    assert putuo[1]["incomplete"] and putuo[1]["stored"].startswith("未保存")
    assert putuo[0]["stored"].startswith("已保存为评价表")
    huanggang = rows["forms/huanggang_shuitu_2020_20point.txt"][0]
    assert (huanggang["published_total"], huanggang["computed_total"]) == ("99.6", "100.00")
    assert "published_deduction_when_met" in {f["code"] for f in huanggang["flags"]}
    qingshen = rows["forms/qingshen_gongzi_2023_sichuan_unfilled.txt"][0]
    assert qingshen["incomplete"] and qingshen["grade"] is None
    # Generated forms of every type, matched to their units and stored.
    training = rows["forms/培训.xlsx"][0]
    assert training["matched_unit"] == KNOWN_UNITS[0] and training["evaluation_id"]
    assert (training["computed_total"], training["grade"]) == ("89.00", "良")
    assert rows["forms/运维.docx"][0]["matched_unit"] == KNOWN_UNITS[1]
    hotline = rows["forms.zip/江苏/热线知识库.txt"][0]
    assert hotline["evaluation_id"] and hotline["computed_total"] == "99.00"
    # A file that is no form: one row saying why, never a score.
    note = rows["forms.zip/江苏/说明.txt"][0]
    assert not note["ok"] and note["read"].startswith("无法读取：") and note["grade"] is None
    # What did not match, listed.
    unmatched = {u["unit"] for u in data["unmatched_units"]}
    assert UNKNOWN_UNIT in unmatched and "黄冈市水土保持与农田水利科研所" in unmatched
    assert "未匹配的单位" in result.output and UNKNOWN_UNIT in result.output
    assert data["import"]["stored"] == 5 and data["import"]["files"] == 10
    with app.app_context():
        stored = [r["evaluation_id"] for r in data["forms"] if r["evaluation_id"]]
        evaluations = db.session.scalars(select(Evaluation).where(Evaluation.id.in_(stored))).all()
        assert {e.unit.name for e in evaluations} == {*KNOWN_UNITS, *SHARED_UNITS}
        assert {e.state for e in evaluations} == {"draft"}
        assert {e.cycle_id for e in evaluations} == {cycle_id}
        # Each stored form is its project's own approved targets, imported by finance.
        for ev in evaluations:
            targets = db.session.scalar(
                select(TargetSet).where(TargetSet.project_id == ev.project_id)
            )
            assert targets is not None and targets.state == "approved"
            audit = db.session.scalar(
                select(AuditLog).where(AuditLog.evaluation_id == ev.id, AuditLog.event == "import")
            )
            assert audit is not None and audit.actor.username == "finance"
        # One audit event per file, naming who and which file.
        events = db.session.scalars(
            select(SecurityEvent).where(SecurityEvent.object.like("bulk_import:%"))
        ).all()
        files = {e.detail["file"] for e in events if e.detail["action"] == "bulk_import_file"}
        assert len(files) == 10 and "forms/培训.xlsx" in files
        assert {e.username for e in events} == {"finance"}


def test_the_same_file_twice_is_stored_once(app: Flask, cycle_id: int, tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "一.txt").write_text(generated_form(KNOWN_UNITS[0], "复核项目"), encoding="utf-8")
    # The same bytes under another name, in the same run: read once, stored once.
    shutil.copy(folder / "一.txt", folder / "一（副本）.txt")
    first = run(app, str(folder), "--cycle", str(cycle_id), "--report", str(tmp_path / "r1"))
    assert first.exit_code == 0, first.output
    rows = _report(tmp_path / "r1")["forms"]
    assert rows[0]["evaluation_id"] and rows[1]["evaluation_id"] is None
    assert rows[1]["duplicate_of"] == "a/一.txt" and "重复文件" in rows[1]["stored"]
    # Again later, from a ZIP: recognised by its hash, not stored again.
    archive = zip_of(tmp_path, {"再次.txt": (folder / "一.txt").read_bytes()})
    second = run(app, str(archive), "--cycle", str(cycle_id), "--report", str(tmp_path / "r2"))
    assert second.exit_code == 0, second.output
    again = _report(tmp_path / "r2")["forms"]
    assert again[0]["evaluation_id"] is None and "第 1 次批量导入" in again[0]["stored"]
    assert "重复 1 个" in second.output
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Evaluation).where(Evaluation.cycle_id == cycle_id)
        )
        assert count == 1
        # Without --as the audit rows say the command line did it.
        audit = db.session.scalar(select(AuditLog).where(AuditLog.event == "import"))
        assert audit is not None and audit.actor_name == "命令行导入"


def test_without_a_cycle_reads_and_scores_only(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Evaluation))
    folder = shared_folder(tmp_path)
    result = run(app, str(folder), "--report", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    data = _report(tmp_path / "r")
    assert data["import"]["forms"] == 9 and data["import"]["stored"] == 0
    assert all(r["stored"] == "" for r in data["forms"])
    assert data["unmatched_units"] == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Evaluation)) == before


def test_the_report_columns(app: Flask, tmp_path: Path) -> None:
    folder = shared_folder(tmp_path)
    assert run(app, str(folder), "--report", str(tmp_path / "r")).exit_code == 0
    sheet = load_workbook(tmp_path / "r.xlsx").active
    header = [c.value for c in sheet[1]]
    assert header == [
        "文件", "第几张表", "填报单位", "项目名称", "读取结果", "指标数", "公布总分",
        "计算总分", "等级", "标记", "匹配的单位", "保存结果", "评价表编号",
    ]  # fmt: skip
    lines = {row[0].value + "#" + str(row[1].value): row for row in sheet.iter_rows(min_row=2)}
    putuo_b = lines["forms/putuo_tiyu_2022_two_forms.txt#2/2"]
    assert putuo_b[8].value == "不评定（表格不完整）"
    assert "form_incomplete" in putuo_b[9].value
    training = lines["forms/培训.xlsx#1/1"]
    assert [c.value for c in training[2:9]] == [
        KNOWN_UNITS[0], "政务服务培训", "已读取", 4, None, "89.00", "良",
    ]  # fmt: skip
    keys = set(_report(tmp_path / "r")["forms"][0])
    assert {
        "file", "form", "unit", "project", "read", "indicators", "published_total",
        "computed_total", "grade", "flags",
    } <= keys  # fmt: skip


def test_enqueue_hands_the_work_to_the_bulk_task(app: Flask, tmp_path: Path) -> None:
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "表.txt").write_text(generated_form(KNOWN_UNITS[0], "排队项目"), encoding="utf-8")
    result = run(app, str(folder), "--enqueue")
    assert result.exit_code == 0 and "已排入后台队列" in result.output, result.output
    with app.app_context():
        message = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "bulk_import")
        )
        assert message is not None and message.done_at is None
        bulk_id = message.payload["bulk_import_id"]
        assert db.session.get(BulkImport, bulk_id).status == "queued"
        from workflow.bulk.tasks import run_bulk_import

        # What the worker runs, in this process; then a second hand-out does nothing.
        assert run_bulk_import.run(bulk_id, outbox_id=message.id) == 1
        assert run_bulk_import.run(bulk_id, outbox_id=message.id) == 0
        db.session.expire_all()
        assert db.session.get(OutboxMessage, message.id).done_at is not None
        bulk = db.session.get(BulkImport, bulk_id)
        assert (bulk.status, bulk.processed, bulk.total) == ("done", 1, 1)
        file = db.session.scalar(
            select(BulkImportFile).where(BulkImportFile.bulk_import_id == bulk_id)
        )
        assert file.content is None and file.rows[0]["grade"] == "良"


def test_a_task_out_of_time_continues_where_it_stopped(app: Flask, tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.txt").write_text(
            generated_form(KNOWN_UNITS[0], f"项目{n}"), encoding="utf-8"
        )
    assert run(app, str(folder), "--enqueue").exit_code == 0
    with app.app_context():
        bulk_id = db.session.scalar(select(BulkImport.id).order_by(BulkImport.id.desc()))
        first = operations.run_bulk_import(bulk_id, budget_seconds=0)
        assert (first.claimed, first.finished, first.processed) == (True, False, 1)
        rest = operations.run_bulk_import(bulk_id)
        assert (rest.finished, rest.processed) == (True, 2)


def test_refusals(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    result = run(app, str(bad))
    assert result.exit_code == 2 and "ZIP" in result.output
    form = tmp_path / "form.txt"
    form.write_text(generated_form(KNOWN_UNITS[0], "项目"), encoding="utf-8")
    assert run(app, str(form), "--cycle", "不存在的任务").exit_code == 1
    refused = run(app, str(form), "--as", "unit_a")
    assert refused.exit_code == 3 and "只有财政或系统管理员" in refused.output


def test_zip_members_and_bundles() -> None:
    with pytest.raises(SourceError, match="不是有效的 ZIP"):
        expand_upload("坏.zip", b"PK\x03\x04garbage")
    # An .xlsx is a ZIP too, but a form, not a bundle.
    assert [f.name for f in expand_upload("表.xlsx", b"PK\x03\x04x")] == ["表.xlsx"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("江苏省政务服务中心", 2),
        ("江苏省 政务服务中心", 2),
        ("江苏省政务服务管理办公室(机关)", 1),
        ("江苏省政务服务管理办公室（机关）", 1),
        ("江苏省政务服务中心（盖章）", 2),
        ("江苏省", None),
        ("", None),
        ("别的单位", None),
    ],
)
def test_match_unit(name: str, expected: int | None) -> None:
    units = [
        (operations.normalise_name(n), i, n)
        for i, n in ((1, "江苏省政务服务管理办公室（机关）"), (2, "江苏省政务服务中心"))
    ]
    assert operations.match_unit(name, units) == expected


def test_flags_text() -> None:
    flags = [{"code": "x", "message": "说明", "blocking": True, "indicator": "满意度"}]
    assert report.flags_text(flags) == "【阻止】满意度：说明（x）"


def test_a_form_read_from_its_bytes_is_the_form_read_from_its_path(tmp_path: Path) -> None:
    from scoring import import_forms
    from tests.scoring.importers.importer_files import rows_of, write_xlsx

    path = write_xlsx(rows_of(generated_form(KNOWN_UNITS[0], "字节")), tmp_path / "表.xlsx")
    (by_path,) = import_forms(path)
    (by_bytes,) = import_forms("表.xlsx", data=path.read_bytes())
    assert by_bytes.entries == by_path.entries and by_bytes.source_kind == "xlsx"


def test_a_file_that_fails_unexpectedly_is_reported_and_the_rest_goes_on(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.txt").write_text(
            generated_form(KNOWN_UNITS[0], f"项目{n}"), encoding="utf-8"
        )
    real = operations._duplicate_of

    def flaky(file: BulkImportFile, cycle_id: int | None) -> Any:
        if file.name.endswith("1.txt"):
            raise RuntimeError("disk on fire")
        return real(file, cycle_id)

    monkeypatch.setattr(operations, "_duplicate_of", flaky)
    result = run(app, str(folder), "--report", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    rows = _report(tmp_path / "r")["forms"]
    assert [r["ok"] for r in rows] == [True, False, True]
    assert "处理时出错（RuntimeError）" in rows[1]["read"]


def test_import_form_refuses_a_form_that_does_not_fit_with_a_message(app: Flask) -> None:
    """The single-form command said so with a traceback (found checking issue 12)."""
    putuo = str(Path(__file__).resolve().parents[3] / ".." / "shared" / "forms")
    result = app.test_cli_runner().invoke(
        args=["import-form", f"{putuo}/putuo_tiyu_2022_two_forms.txt", "--cycle", "1",
              "--unit", "江苏省政务服务中心"]
    )  # fmt: skip
    assert result.exit_code == 1 and "未导入：绩效目标与本年度评价框架不符" in result.output
    assert "Traceback" not in result.output
