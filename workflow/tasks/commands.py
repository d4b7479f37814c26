"""Operator commands on the lead's groups: `evaluations pdf` and `reminders run`.

They call the same code as the Celery tasks, without a broker: an operator's PDF is the
worker's PDF, and `reminders run` claims exactly like the beat task (so a second run at
the same moment sends nothing).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from workflow.cli import evaluations_cli, reminders_cli


@evaluations_cli.command("pdf")
@click.argument("evaluation_id", type=int)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def evaluation_pdf_command(evaluation_id: int, out: Path) -> None:
    """把一份评价表渲染为 PDF（与后台任务同一套代码）。"""
    from workflow.extensions import db
    from workflow.models import Evaluation
    from workflow.pdf import PdfPrerequisiteError, atomic_write, check_pdf_prerequisites, render_pdf

    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None:
        click.echo(f"错误：找不到编号为 {evaluation_id} 的评价表", err=True)
        sys.exit(2)
    try:
        check_pdf_prerequisites()
    except PdfPrerequisiteError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(3)
    data, pages = render_pdf(evaluation)
    atomic_write(out.resolve(), data)
    click.echo(f"已生成 {out}（{pages} 页，{len(data) // 1024} KB）")


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        click.echo(
            f"错误：--now 需要 ISO 格式的时间，例如 2026-03-25T09:00:00+08:00，收到 {value!r}",
            err=True,
        )
        sys.exit(2)
    if moment.tzinfo is None:
        from workflow.reminders import local_tz

        moment = moment.replace(tzinfo=local_tz())
    return moment


@reminders_cli.command("run")
@click.option(
    "--now", "now_text", default=None, help="按此时刻计算到期提醒（ISO 时间，缺省为现在）"
)
def reminders_run_command(now_text: str | None) -> None:
    """发送此刻到期的截止提醒（与定时任务同一套代码，同一时刻重复执行不会重复发送）。"""
    from workflow.reminders import run_now

    now = _parse_now(now_text)
    summary = run_now(now)
    click.echo(
        f"{now.isoformat()}：新认领 {summary.claimed} 条，已发送 {summary.sent} 封，"
        f"跳过 {summary.skipped} 条，失败 {summary.failed} 条"
    )
    for error in summary.errors[:10]:
        click.echo(f"  失败原因：{error}", err=True)
    if summary.failed:
        sys.exit(1)
