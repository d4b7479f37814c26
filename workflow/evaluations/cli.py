"""The evaluations' flask commands: `import-form` and the `evaluations` group (list,
recount, fire; `evaluations pdf` is added by workflow.documents.cli)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

import scoring
from workflow.core.cli import fail, find
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.machine import Event, State
from workflow.models import Cycle, Evaluation, Org, OrgKind, User

evaluations_cli = AppGroup("evaluations", help="评价表")


def init_app(app: Flask) -> None:
    app.cli.add_command(import_form_command)
    app.cli.add_command(evaluations_cli)


@click.command("import-form")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cycle", "cycle_ref", required=True, help="评价任务的 ID 或名称")
@click.option("--unit", "unit_ref", required=True, help="预算单位的 ID 或名称")
@click.option(
    "--state",
    type=click.Choice([s.value for s in State]),
    default=State.DRAFT.value,
    help="导入后的状态；非草稿须用 --as 和 --reason 说明由谁、为何导入",
)
@click.option("--as", "as_user", default=None, help="执行导入的用户名（导入到后续状态时必填）")
@click.option("--reason", default=None, help="导入到后续状态的原因")
def import_form_command(
    file: Path, cycle_ref: str, unit_ref: str, state: str, as_user: str | None, reason: str | None
) -> None:
    """导入一份已填报的自评表文件，成为一份评价表（保留原表公布的得分）。"""
    try:
        result = scoring.import_form(file)
    except scoring.FormReadError as exc:
        fail(f"无法读取该表：{exc}", 2)
        return
    cycle = find(Cycle, cycle_ref)
    unit = find(Org, unit_ref)
    if cycle is None:
        fail(f"找不到评价任务：{cycle_ref}")
        return
    if unit is None or unit.kind != OrgKind.UNIT:
        fail(f"找不到预算单位：{unit_ref}")
        return
    actor = None
    if state != State.DRAFT.value:
        actor = db.session.scalar(select(User).where(User.username == (as_user or "")))
        if actor is None or not (reason or "").strip():
            fail("导入到非草稿状态时必须用 --as 指定用户并用 --reason 说明原因")
            return
    from workflow.admin import operations as admin_ops

    try:
        evaluation = admin_ops.import_form_draft(
            result, cycle=cycle, unit=unit, fallback_name=file.stem, actor=actor
        )
    except admin_ops.AdminError as exc:
        db.session.rollback()
        fail(f"未导入：{exc.message}")
        return
    project = evaluation.project
    if actor is not None:
        card = operations.scorecard(evaluation)
        rows = {r.code: r for r in card.rows}
        for row in evaluation.rows:
            r = rows.get(row.code)
            row.self_score = r.score if r else None
            row.applicable = r.applicable if r else True
            if state in (State.FINANCE_CONFIRMATION.value, State.CONFIRMED.value):
                row.dept_score = row.self_score
            if state == State.CONFIRMED.value:
                row.final_score = row.self_score
        evaluation.self_total, evaluation.self_grade = card.total, card.grade
        if state in (
            State.DEPT_REVIEW.value,
            State.FINANCE_CONFIRMATION.value,
            State.CONFIRMED.value,
        ):
            evaluation.dept_total, evaluation.dept_grade = card.total, card.grade
        if state == State.CONFIRMED.value:
            evaluation.final_total, evaluation.final_grade = card.total, card.grade
        evaluation.state = state
        db.session.flush()
        operations.record_admin_event(actor, "import", evaluation, reason, from_state="draft")
    db.session.commit()
    click.echo(
        f"已导入评价表 #{evaluation.id}：{project.name}（状态 {state}，问题 {len(result.problems)} 条）"
    )
    for problem in result.problems:
        click.echo(f"  第 {problem.row} 行：{problem.message}")


@evaluations_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
def evaluations_list(as_json: bool) -> None:
    """列出评价表：编号、单位、项目、状态、各阶段总分。"""
    rows = []
    for ev in db.session.scalars(select(Evaluation).order_by(Evaluation.id)):
        rows.append(
            {
                "id": ev.id,
                "unit": ev.unit.name,
                "project": ev.project.name,
                "state": ev.state,
                "state_label": ev.state_label,
                "version": ev.version,
                **operations.totals_snapshot(ev),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['id']}\t{r['unit']}\t{r['project']}\t{r['state_label']}\t"
            f"自评 {r['self_total'] or '-'}\t审核 {r['dept_total'] or '-'}\t确认 {r['final_total'] or '-'}"
        )


@evaluations_cli.command("recount")
def evaluations_recount() -> None:
    """按评价表重新统计各主管部门、各年度任务、各状态的份数（列表的总数和分页由此而来）。"""
    from workflow.admin import operations as admin_ops

    wrong = admin_ops.recount_evaluations()
    click.echo(f"已重新统计：更正了 {wrong} 处计数" if wrong else "计数与评价表一致，无需更正")


@evaluations_cli.command("fire")
@click.argument("evaluation_id", type=int)
@click.argument("event", type=click.Choice([e.value for e in Event]))
@click.option("--as", "as_user", required=True, help="以哪个用户的身份执行")
@click.option("--reason", default=None)
def evaluations_fire(evaluation_id: int, event: str, as_user: str, reason: str | None) -> None:
    """以某用户身份执行一个流程操作（与网页同一套权限和状态机）。"""
    user = db.session.scalar(select(User).where(User.username == as_user))
    if user is None or not user.active:
        fail(f"找不到可用的用户：{as_user}")
        return
    try:
        result = operations.fire(user, evaluation_id, event, reason=reason)
    except operations.OperationError as exc:
        details = "".join(f"\n  - {d}" for d in exc.details)
        fail(f"操作被拒绝：{exc.message}{details}", 3 if exc.status in (403, 404) else 1)
        return
    ev = result.evaluation
    click.echo(f"评价表 #{ev.id} 已{result.transition.label}，当前状态：{ev.state_label}")


@evaluations_cli.command("verify")
@click.argument("evaluation_id", type=int)
def evaluations_verify(evaluation_id: int) -> None:
    """核验一份已确认评价表的 SM2 签章（与当前数据比对）；被篡改时退出码为 1。"""
    from workflow.evaluations import seal

    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None:
        fail(f"找不到评价表：{evaluation_id}")
        return
    verdict = seal.check(evaluation)
    click.echo(f"评价表 {evaluation_id}：{verdict.label}")
    if verdict.code:
        click.echo(f"验证码 {verdict.code}　密钥 {verdict.key_id}")
    for problem in verdict.problems:
        click.echo(f"  - {problem}")
    if verdict.status == seal.TAMPERED:
        fail("签章校验失败：数据已被篡改")
    if verdict.status == seal.UNSEALED:
        fail("该评价表未确认或没有签章", code=2)
