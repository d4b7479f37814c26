"""`flask reminders run`: claim and send what is due now, without a broker; it claims
exactly like the beat task, so a second run at the same moment sends nothing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

reminders_cli = AppGroup("reminders", help="截止提醒")


def init_app(app: Flask) -> None:
    app.cli.add_command(reminders_cli)


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
        from workflow.reminders.operations import local_tz

        moment = moment.replace(tzinfo=local_tz())
    return moment


@reminders_cli.command("run")
@click.option(
    "--now", "now_text", default=None, help="按此时刻计算到期提醒（ISO 时间，缺省为现在）"
)
def reminders_run_command(now_text: str | None) -> None:
    """发送此刻到期的截止提醒（与定时任务同一套代码，同一时刻重复执行不会重复发送）。"""
    from workflow.reminders.delivery import run_now

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
