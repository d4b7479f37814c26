"""结果应用 (3): the public bundle (公开) of a cycle: every confirmed evaluation's form as a
PDF and a summary workbook, with no personal data. The PDFs are rendered for publication
(the sign-off block with names and phone is left out); every free text has phone numbers,
e-mail addresses and the names of the people the system knows replaced by ＊＊＊."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import Iterable

from flask import current_app
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from workflow.core.extensions import db
from workflow.dashboard.export import neutralise
from workflow.models import Cycle, Evaluation, User
from workflow.rechecks import queries

MASK = "＊＊＊"
PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{3,4}-\d{7,8})(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
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


def scrubber(names: Iterable[str]):  # type: ignore[no-untyped-def]
    """A function that removes phones, e-mails and these names from a text."""
    known = sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(n) for n in known)) if known else None

    def scrub(text: str | None) -> str:
        out = EMAIL.sub(MASK, text or "")
        out = PHONE.sub(MASK, out)
        if pattern is not None:
            out = pattern.sub(MASK, out)
        return out

    return scrub


def _people(evaluations: list[Evaluation]) -> list[str]:
    names = list(db.session.scalars(select(User.name)))
    for ev in evaluations:
        names += [ev.filled_by or "", ev.unit_head or ""]
    return names


def public_pdf(evaluation: Evaluation, scrub) -> bytes:  # type: ignore[no-untyped-def]
    from workflow.documents.render import TEMPLATE, build_view, html_to_pdf

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
    html = current_app.jinja_env.get_template(TEMPLATE).render(form=view)
    data, _pages = html_to_pdf(html)
    return data


def build(cycle_id: int) -> tuple[str, bytes, int]:
    """(file name, ZIP bytes, how many forms) of the cycle's public bundle."""
    cycle = db.session.get(Cycle, cycle_id)
    assert cycle is not None
    evaluations = list(
        db.session.scalars(
            select(Evaluation)
            .where(Evaluation.cycle_id == cycle_id, Evaluation.state == "confirmed")
            .order_by(Evaluation.department_id, Evaluation.unit_id, Evaluation.id)
        )
    )
    scrub = scrubber(_people(evaluations))
    finals = queries.final_grades(cycle_id)
    wb = Workbook()
    ws = wb.active
    ws.title = "绩效自评结果"
    ws.append(list(SUMMARY_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, ev in enumerate(evaluations, start=1):
            total, grade, source = finals.get(ev.id, (ev.final_total, ev.final_grade, "财政确认"))
            p = ev.project
            ws.append(
                [
                    neutralise(v)
                    for v in (
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
                ]
            )
            safe = re.sub(r'[\\/:*?"<>|]', "_", f"{n:03d}-{ev.unit.name}-{p.name}")[:120]
            zf.writestr(f"自评表/{safe}.pdf", public_pdf(ev, scrub))
        sheet = io.BytesIO()
        wb.save(sheet)
        zf.writestr("绩效自评结果汇总.xlsx", sheet.getvalue())
        zf.writestr(
            "说明.txt",
            f"{cycle.name}：已确认的项目支出绩效自评表 {len(evaluations)} 份及结果汇总。\n"
            "本公开包已删除个人信息（姓名、电话、电子邮箱）。\n",
        )
    return f"{cycle.year}年度绩效自评公开包.zip", buffer.getvalue(), len(evaluations)
