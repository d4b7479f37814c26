"""The PDF: real Chinese glyphs, every indicator and score of the seed, layout markers,
atomic idempotent storage, the restricted URL fetcher, the prerequisite check, the CLI."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from task_world import World, seed_rows

from workflow.core.extensions import db
from workflow.documents import operations as documents_ops
from workflow.documents import render as pdf_module
from workflow.documents.operations import store_pdf
from workflow.documents.render import (
    PdfPrerequisiteError,
    check_pdf_prerequisites,
    fmt_decimal,
    paragraphs,
    render_pdf,
    static_only_fetcher,
)
from workflow.models import PdfFile


def pdftotext(path: Path, mode: str = "-layout") -> str:
    return subprocess.run(
        ["pdftotext", mode, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def pdffonts(path: Path) -> list[list[str]]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


@pytest.fixture
def seed_pdf(task_world: World, tmp_path: Path) -> Path:
    data, pages = render_pdf(task_world.evaluation)
    assert data.startswith(b"%PDF")
    assert pages >= 2
    path = tmp_path / "seed.pdf"
    path.write_bytes(data)
    return path


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_fonts_are_embedded_cjk_fonts(seed_pdf: Path) -> None:
    fonts = pdffonts(seed_pdf)
    assert fonts, "no fonts in the PDF"
    names = [row[0] for row in fonts]
    assert any("CJK" in name or "Hei" in name for name in names), names
    for row in fonts:
        # columns: name type... emb sub uni object ID; every font embedded and subset
        assert row[-5] == "yes" and row[-4] == "yes", row
    assert not any("Type 3" in " ".join(row) for row in fonts)


def test_text_has_every_indicator_score_and_grade(task_world: World, seed_pdf: Path) -> None:
    text = pdftotext(seed_pdf)
    flat = squash(pdftotext(seed_pdf, "-raw"))  # content order: a wrapped cell stays together
    scheme = task_world.evaluation.scheme
    names = [
        ind["name"]
        for top in scheme["tree"]
        for sub in top["children"]
        for ind in sub["indicators"]
    ]
    assert len(names) >= 30
    for name in names:
        assert squash(name) in flat, name
    seed = seed_rows(names)
    for name in names:
        row = seed[name]
        # the name's line (or the lines right after it when the name wraps) carries the score
        assert row.score in text, (name, row.score)
    assert "98.5" in text
    assert "优" in text
    for label in (
        "省级项目支出绩效自我评价表",
        "2022年度",
        "填报单位",
        "项目名称",
        "项目概况",
        "总计",
        "绩效等级",
        "主要成效",
        "存在问题",
        "整改措施",
        "填报人",
        "单位负责人",
        "主管部门审核人",
        "财政确认人",
    ):
        assert label in flat, label
    assert "江苏省政务服务管理办公室（机关）" in flat
    assert "<p>" not in text  # imported HTML paragraphs become paragraphs, not tags


def test_layout_markers_on_every_page(seed_pdf: Path) -> None:
    pages = pdftotext(seed_pdf).split("\f")
    pages = [p for p in pages if p.strip()]
    total = len(pages)
    assert total >= 2
    for number, page in enumerate(pages, start=1):
        assert f"第{number}页共{total}页" in squash(page)
    # the table header repeats on every page the table spans
    table_pages = [p for p in pages if "满意度" in p or "决策" in p or "产出" in p]
    for page in table_pages:
        assert "三级指标" in page and "评价要点及评分规则" in page
    # watermark of the state until the grade is confirmed
    assert all("已自评" in squash(p) for p in pages)


def test_landscape_a4(seed_pdf: Path) -> None:
    from pypdf import PdfReader

    box = PdfReader(str(seed_pdf)).pages[0].mediabox
    assert round(float(box.width)) == 842 and round(float(box.height)) == 595


def test_confirmed_has_three_columns_and_no_watermark(task_world: World, tmp_path: Path) -> None:
    evaluation = task_world.evaluation
    for row in evaluation.rows:
        row.dept_score = row.self_score
        row.final_score = row.self_score
    evaluation.dept_total = evaluation.final_total = evaluation.self_total
    evaluation.dept_grade = evaluation.final_grade = "优"
    evaluation.state = "confirmed"
    evaluation.reviewer_id = task_world.reviewer.id
    evaluation.reviewed_at = datetime(2026, 4, 2, 1, 0, tzinfo=UTC)
    evaluation.confirmer_id = task_world.finance_user.id
    evaluation.confirmed_at = datetime(2026, 4, 9, 6, 0, tzinfo=UTC)
    db.session.commit()
    path = tmp_path / "confirmed.pdf"
    path.write_bytes(render_pdf(evaluation)[0])
    text = pdftotext(path)
    flat = squash(pdftotext(path, "-raw"))
    assert "审核得分" in flat and "确认得分" in flat
    assert flat.count("已确认") == flat.count("2022年度·已确认（定级）")  # running head only
    assert "陈静" in text and "孙丽" in text
    assert "2026-04-09 14:00" in text  # shown in China time


def test_user_text_is_escaped(task_world: World, tmp_path: Path) -> None:
    evaluation = task_world.evaluation
    evaluation.problems = '<img src="file:///etc/passwd"> 未完成 <b>加粗</b> & "引号"'
    evaluation.project.name = "项目<script>alert(1)</script>"
    db.session.commit()
    html = pdf_module.render_html(evaluation)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<img src="file:///etc/passwd">' not in html
    path = tmp_path / "escaped.pdf"
    path.write_bytes(render_pdf(evaluation)[0])
    assert "<img" in pdftotext(path)  # printed as text


def test_fetcher_serves_only_static_files(task_app: Flask, tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "logo.txt").write_text("ok", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret", encoding="utf-8")
    fetcher = static_only_fetcher(str(static), "http://jixiao.test")
    assert fetcher.fetch("http://jixiao.test/static/logo.txt").read() == b"ok"
    assert fetcher.fetch((static / "logo.txt").as_uri()).read() == b"ok"
    for url in (
        secret.as_uri(),
        "file:///etc/passwd",
        "http://jixiao.test/static/../secret.txt",
        "http://127.0.0.1:6379/",
        "https://example.com/x.css",
        "data:text/plain,hi",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_store_is_idempotent_and_atomic(task_world: World, task_app: Flask) -> None:
    evaluation_id = task_world.evaluation.id
    first = store_pdf(evaluation_id, 2)
    assert first is not None
    path = Path(task_app.config["PDF_DIR"]) / first.path
    assert path.is_file() and path.read_bytes().startswith(b"%PDF")
    mtime = path.stat().st_mtime_ns
    second = store_pdf(evaluation_id, 2)
    assert second is not None and second.id == first.id
    assert path.stat().st_mtime_ns == mtime  # no second render
    assert db.session.query(PdfFile).count() == 1
    assert [p.name for p in path.parent.iterdir()] == ["v2.pdf"]  # no temporary files left
    assert first.pages >= 2 and first.size == path.stat().st_size
    assert store_pdf(999_999, 1) is None


def test_store_rewrites_a_lost_file(task_world: World, task_app: Flask) -> None:
    row = store_pdf(task_world.evaluation.id, 2)
    assert row is not None
    path = Path(task_app.config["PDF_DIR"]) / row.path
    path.unlink()
    again = store_pdf(task_world.evaluation.id, 2)
    assert again is not None and again.id == row.id and path.is_file()


def test_atomic_write_leaves_nothing_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "a.pdf"

    def boom(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(documents_ops.os, "replace", boom)
    with pytest.raises(OSError):
        documents_ops.atomic_write(target, b"%PDF-1.7")
    assert list(target.parent.iterdir()) == []


def test_prerequisites(monkeypatch: pytest.MonkeyPatch, task_ctx: Flask) -> None:
    assert check_pdf_prerequisites() == "Noto Sans CJK SC"
    monkeypatch.setattr(pdf_module, "cjk_fonts", lambda: [])
    with pytest.raises(PdfPrerequisiteError, match="中文字体"):
        check_pdf_prerequisites()
    monkeypatch.setattr(pdf_module, "cjk_fonts", lambda: ["DejaVu Sans"])
    with pytest.raises(PdfPrerequisiteError, match="未找到"):
        check_pdf_prerequisites()
    monkeypatch.setattr(pdf_module, "cjk_fonts", lambda: ["Noto Sans CJK SC"])
    monkeypatch.setattr(pdf_module, "harfbuzz_subsetting", lambda: False)
    with pytest.raises(PdfPrerequisiteError, match="HarfBuzz"):
        check_pdf_prerequisites()


def test_worker_refuses_to_start_without_prerequisites(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, task_ctx: Flask
) -> None:
    from workflow.core import celery as tasks

    monkeypatch.setattr(pdf_module, "cjk_fonts", lambda: [])
    with pytest.raises(SystemExit):
        tasks._refuse_without_prerequisites()
    assert "工作进程拒绝启动" in caplog.text


def test_helpers() -> None:
    assert fmt_decimal(Decimal("98.50")) == "98.5"
    assert fmt_decimal(Decimal("2.00")) == "2"
    assert fmt_decimal(None) == ""
    assert paragraphs("<p>一</p> <p>二&amp;三</p>") == ["一", "二&三"]
    assert paragraphs("甲\n\n乙") == ["甲", "乙"]


def test_cli_pdf(task_world: World, task_app: Flask, tmp_path: Path) -> None:
    runner = task_app.test_cli_runner()
    out = tmp_path / "cli.pdf"
    result = runner.invoke(args=["evaluations", "pdf", str(task_world.evaluation.id), str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert "已生成" in result.output
    missing = runner.invoke(args=["evaluations", "pdf", "424242", str(tmp_path / "x.pdf")])
    assert missing.exit_code != 0
    assert "找不到编号为 424242 的评价表" in missing.output
    assert not (tmp_path / "x.pdf").exists()


def test_a_late_task_files_the_pdf_under_the_version_it_renders(
    task_world: World, task_app: Flask
) -> None:
    """The task for v1 runs after the evaluation reached v2: the PDF shows v2's content, so
    it is stored as v2, never as v1."""
    evaluation_id = task_world.evaluation.id
    assert task_world.evaluation.version == 2
    row = store_pdf(evaluation_id, 1)
    assert row is not None and row.version == 2
    assert db.session.query(PdfFile).filter_by(evaluation_id=evaluation_id, version=1).count() == 0
    assert store_pdf(evaluation_id, 1).id == row.id  # and a redelivery is a no-op
