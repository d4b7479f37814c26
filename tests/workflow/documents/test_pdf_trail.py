"""The review trail on paper (issue 13): the unit's 偏差原因 beside its row, the opinions,
every changed score with its reason, the 一级指标 named over a page that continues its group,
the stamp and signature boxes; and the worker's one log line per PDF."""

from __future__ import annotations

import logging
import re
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from task_world import World

from workflow.core.extensions import db
from workflow.documents.operations import store_pdf
from workflow.documents.render import render_pdf


def pdftotext(path: Path) -> list[str]:
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [re.sub(r"\s+", "", page) for page in out.split("\f") if page.strip()]


def _reviewed(world: World) -> None:
    evaluation = world.evaluation
    first = evaluation.rows[0]
    entries = dict(evaluation.entries or {})
    entries[first.code] = {**(entries.get(first.code) or {}), "reason": "立项依据偏差已说明整改"}
    evaluation.entries = entries
    for row in evaluation.rows:
        row.dept_score = row.self_score
    first.dept_score = (first.self_score or Decimal(0)) - Decimal("0.5")
    first.dept_reason = "立项论证材料不全，扣0.5分"
    evaluation.dept_total = (evaluation.self_total or Decimal(0)) - Decimal("0.5")
    evaluation.dept_grade = "优"
    evaluation.dept_opinion = "同意报送财政，立项依据扣0.5分。"
    evaluation.state = "finance_confirmation"
    evaluation.reviewer_id = world.reviewer.id
    evaluation.reviewed_at = datetime(2026, 4, 2, 1, 0, tzinfo=UTC)
    db.session.commit()


def test_pdf_prints_the_trail(task_world: World, tmp_path: Path) -> None:
    _reviewed(task_world)
    path = tmp_path / "trail.pdf"
    data, pages = render_pdf(task_world.evaluation)
    path.write_bytes(data)
    text = pdftotext(path)
    assert len(text) == pages >= 2
    flat = "".join(text)
    assert "偏差原因分析及改进措施" in flat and "立项依据偏差已说明整改" in flat
    assert "主管部门审核意见" in flat and "同意报送财政，立项依据扣0.5分。" in flat
    assert "得分调整及理由" in flat and "立项论证材料不全，扣0.5分" in flat
    assert (
        "填报单位（盖章）" in flat
        and "单位负责人（签字）" in flat
        and "财政部门确认意见（盖章）" in flat
    )
    # Each page the indicator table continues on names the 一级指标 it continues; the first
    # page and the pages after the table do not.
    table_pages = [i for i, p in enumerate(text) if "三级指标" in p]
    assert len(table_pages) >= 2
    assert "一级指标（续上页）" not in text[0]
    for i in table_pages[1:]:
        assert re.search(r"一级指标（续上页）：(决策|过程|产出|效益|满意度)", text[i]), i
    for page in text[table_pages[-1] + 1 :]:
        assert "一级指标（续上页）" not in page


def test_worker_logs_one_line_per_pdf(task_world: World, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG, logger="weasyprint")
    caplog.set_level(logging.INFO, logger="workflow.documents")
    store_pdf(task_world.evaluation.id, task_world.evaluation.version)
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.name for r in infos] == ["workflow.documents.operations"]
    [line] = infos
    assert re.fullmatch(
        r"PDF stored: evaluation \d+ v\d+ \(\w+\), \d+ pages, \d+ KB, \d+\.\d\d s",
        line.getMessage(),
    )
    # Nor any warning of WeasyPrint about the app's own stylesheet.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []
