"""结果应用 (3): what the public bundle (公开) of a cycle is made of: every confirmed
evaluation's form as a PDF and a summary workbook, with no personal data. The PDFs are
rendered for publication (the sign-off block with names and phone is left out); every free
text has phone numbers, e-mail addresses and the names of the people the system knows
replaced by ＊＊＊.

The pieces are used by the PDF worker, one form at a time (workflow/rechecks/publish.py),
and by `flask rechecks public-bundle`, all at once (`build_file`)."""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from workflow.core import jobs
from workflow.core.extensions import db
from workflow.dashboard.export import neutralise
from workflow.models import Cycle, Evaluation, Org, Project, User
from workflow.rechecks import queries

MASK = "＊＊＊"
PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{3,4}-\d{7,8})(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SUMMARY_NAME = "绩效自评结果汇总.xlsx"
SUMMARY_HEADER = (
    "项目名称",
    "项目编码",
    "预算单位",
    "主管部门",
    "全年预算数",
    "全年执行数",
    "自评得分",
    "自评等级",
    "最终得分",
    "最终等级",
    "等级来源",
    "主要成效",
    "存在问题",
    "整改措施",
)
_UNSAFE = re.compile(r'[\\/:*?"<>|]')

Scrub = Callable[[str | None], str]


def scrubber(names: Iterable[str]) -> Scrub:
    """A function that removes phones, e-mails and these names from a text.

    The names are looked up by length at each position (a province knows thousands of
    people: one regular expression of thousands of alternatives would try each of them at
    every character)."""
    known = {n.strip() for n in names if n and len(n.strip()) >= 2}
    lengths = sorted({len(n) for n in known}, reverse=True)

    def names_out(text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            for length in lengths:
                if text[i : i + length] in known:
                    out.append(MASK)
                    i += length
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def scrub(text: str | None) -> str:
        out = EMAIL.sub(MASK, text or "")
        out = PHONE.sub(MASK, out)
        return names_out(out) if known else out

    return scrub


def snapshot(cycle_id: int) -> list[int]:
    """The cycle's confirmed evaluations, in the bundle's order (department, unit, id)."""
    return list(
        db.session.scalars(
            select(Evaluation.id)
            .where(Evaluation.cycle_id == cycle_id, Evaluation.state == "confirmed")
            .order_by(Evaluation.department_id, Evaluation.unit_id, Evaluation.id)
        )
    )


def cycle_scrubber(cycle_id: int) -> Scrub:
    """Every account's name and every name typed on any form of the cycle (more than the
    confirmed ones: a name masked too often costs nothing)."""
    names = list(db.session.scalars(select(User.name)))
    for filled_by, unit_head in db.session.execute(
        select(Evaluation.filled_by, Evaluation.unit_head).where(Evaluation.cycle_id == cycle_id)
    ):
        names += [filled_by or "", unit_head or ""]
    return scrubber(names)


def public_pdf(evaluation: Evaluation, scrub: Scrub) -> bytes:
    from workflow.documents.render import build_view, html_to_pdf, view_html

    view = build_view(evaluation)
    view = dataclasses.replace(
        view,
        summary=scrub(view.summary),
        main_results=[scrub(p) for p in view.main_results],
        problems=[scrub(p) for p in view.problems],
        measures=[scrub(p) for p in view.measures],
        rows=[dataclasses.replace(r, actual=scrub(r.actual)) for r in view.rows],
        signoff=[],
    )
    data, _pages = html_to_pdf(view_html(view))
    return data


def file_name(cycle: Cycle) -> str:
    return f"{cycle.year}年度绩效自评公开包.zip"


def member_names(evaluation_ids: list[int], scrub: Scrub) -> dict[int, str]:
    """`自评表/001-<unit>-<project>.pdf` for each evaluation, numbered in the given order."""
    labels = {
        ev_id: (unit, project)
        for ev_id, unit, project in db.session.execute(
            select(Evaluation.id, Org.name, Project.name)
            .join(Org, Org.id == Evaluation.unit_id)
            .join(Project, Project.id == Evaluation.project_id)
            .where(Evaluation.id.in_(evaluation_ids))
        )
    }
    names = {}
    for n, ev_id in enumerate(evaluation_ids, start=1):
        unit, project = labels.get(ev_id, ("", ""))
        safe = _UNSAFE.sub("_", f"{n:03d}-{unit}-{scrub(project)}")[:120]
        names[ev_id] = f"自评表/{safe}.pdf"
    return names


def summary_workbook(cycle_id: int, evaluation_ids: list[int], scrub: Scrub) -> bytes:
    finals = queries.final_grades(cycle_id)
    wb = Workbook()
    ws = wb.active
    ws.title = "绩效自评结果"
    ws.append(list(SUMMARY_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    order = {ev_id: n for n, ev_id in enumerate(evaluation_ids)}
    evaluations = sorted(
        db.session.scalars(select(Evaluation).where(Evaluation.id.in_(evaluation_ids))),
        key=lambda ev: order[ev.id],
    )
    for ev in evaluations:
        total, grade, source = finals.get(ev.id, (ev.final_total, ev.final_grade, "财政确认"))
        p = ev.project
        values = (
            scrub(p.name),
            p.code or "",
            ev.unit.name,
            ev.department.name,
            p.budget_full,
            p.spent,
            ev.self_total,
            ev.self_grade or "",
            total,
            grade or "",
            source,
            scrub(ev.main_results),
            scrub(ev.problems),
            scrub(ev.measures),
        )
        ws.append([neutralise(v) for v in values])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def readme(cycle: Cycle, count: int) -> str:
    return (
        f"{cycle.name}：已确认的项目支出绩效自评表 {count} 份及结果汇总。\n"
        "本公开包已删除个人信息（姓名、电话、电子邮箱）。\n"
    )


def write_zip(cycle: Cycle, parts: list[tuple[int, Path]], target: Path, scrub: Scrub) -> int:
    """The ZIP of these rendered PDFs (evaluation id, file), the summary and the note,
    written to a temporary file beside the target and renamed into place; its size."""
    ids = [ev_id for ev_id, _ in parts]
    names = member_names(ids, scrub)

    def fill(zf: zipfile.ZipFile) -> None:
        for ev_id, path in parts:
            # PDFs are compressed already: stored, not deflated again.
            zf.write(path, arcname=names[ev_id], compress_type=zipfile.ZIP_STORED)
        zf.writestr(SUMMARY_NAME, summary_workbook(cycle.id, ids, scrub))
        zf.writestr("说明.txt", readme(cycle, len(parts)))

    jobs.write_zip(target, fill, zipfile.ZIP_DEFLATED)
    return target.stat().st_size


def build_file(cycle_id: int, target: Path) -> int:
    """The whole bundle at once into ``target`` (the command line); how many forms."""
    cycle = db.session.get(Cycle, cycle_id)
    assert cycle is not None
    scrub = cycle_scrubber(cycle_id)
    ids = snapshot(cycle_id)
    with tempfile.TemporaryDirectory(prefix="public-bundle-") as staging:
        parts = []
        for n, ev_id in enumerate(ids):
            evaluation = db.session.get(Evaluation, ev_id)
            assert evaluation is not None
            path = Path(staging) / f"{n:05d}.pdf"
            path.write_bytes(public_pdf(evaluation, scrub))
            parts.append((ev_id, path))
        write_zip(cycle, parts, target, scrub)
    return len(ids)
