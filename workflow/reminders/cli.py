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
    from workflow.reminders.tasks import run_now

    now = _parse_now(now_text)
    summary = run_now(now)
    click.echo(
        f"{now.isoformat()}：新认领 {summary.claimed} 条，已发送 {summary.sent} 封，"
        f"跳过 {summary.skipped} 条，转入重试 {summary.retrying} 条，"
        f"未能排队 {summary.failed} 条"
    )
    for error in summary.errors[:10]:
        click.echo(f"  失败原因：{error}", err=True)
    if summary.retrying or summary.failed:
        click.echo("发送失败的邮件由邮件队列按退避间隔自动重试，无需再次执行本命令。", err=True)
        sys.exit(1)


@reminders_cli.command("resend")
@click.argument("claim_ids", nargs=-1, type=int)
@click.option("--all", "resend_all", is_flag=True, help="重新发送全部发送失败的邮件")
@click.option("--as", "username", required=True, help="执行操作的管理员用户名（记入审计日志）")
def reminders_resend_command(claim_ids: tuple[int, ...], resend_all: bool, username: str) -> None:
    """重新发送最终失败的邮件（指定投递记录编号，或 --all）；每条只会重新发送一次。"""
    from sqlalchemy import select

    from workflow.core.cli import fail
    from workflow.core.extensions import db
    from workflow.models import User
    from workflow.reminders.delivery import resend_failed
    from workflow.reminders.tasks import enqueue_claims

    if bool(claim_ids) == resend_all:
        fail("错误：请指定投递记录编号，或使用 --all（二者选一）", 2)
    admin = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if admin is None or admin.role != "sysadmin" or not admin.active:
        fail(f"错误：{username} 不是有效的系统管理员", 2)
        return
    taken = resend_failed(admin, None if resend_all else list(claim_ids))
    queued = 0
    try:
        queued = enqueue_claims(taken)
    except Exception as exc:  # the broker away: the scan's stale-claim check requeues them
        click.echo(f"消息队列不可用（{exc}），稍后由定时任务重新排队", err=True)
    click.echo(f"重新发送 {len(taken)} 条，已排队 {queued} 条")
