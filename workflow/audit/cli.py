"""`flask audit verify | archive` and `flask keys rotate`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from workflow.audit import operations
from workflow.core import crypto
from workflow.core.audit import record_security_event
from workflow.core.cli import fail
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import Evaluation, User

audit_cli = AppGroup("audit", help="安全审计：审计链校验与归档")
keys_cli = AppGroup("keys", help="字段加密密钥（SM4）")


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_cli)
    app.cli.add_command(keys_cli)


@audit_cli.command("verify")
def audit_verify() -> None:
    """校验审计日志和安全事件日志的 HMAC-SM3 链；指出第一处断链，断链时退出码为 1。"""
    breaks = operations.verify()
    if not breaks:
        click.echo("审计链完好：audit_log、security_events 均校验通过")
        return
    for b in breaks:
        click.echo(b.describe())
    fail("审计链校验失败")


@audit_cli.command("archive")
@click.option("--before", "before", required=True, help="归档此日期（YYYY-MM-DD）以前的记录")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def audit_archive(before: str, out: Path) -> None:
    """导出并删除保留期（至少 180 天）以前的审计记录；在 PostgreSQL 上经属主角色执行。"""
    try:
        day = date.fromisoformat(before)
    except ValueError:
        fail("--before 应为 YYYY-MM-DD")
        return
    try:
        result = operations.archive(day, out)
    except operations.ArchiveError as exc:
        fail(str(exc))
        return
    counts = "，".join(f"{name} {n} 行" for name, n in result.counts.items())
    click.echo(f"已归档到 {result.path}：{counts}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """用密钥环中当前的 active 密钥重新加密所有手机号、电子邮箱和动态口令密钥。

    先把新密钥加入 FIELD_KEYRING 并设为 active（旧密钥保留），运行本命令，
    确认无旧密钥标识后再从密钥环中删除旧密钥。"""
    ring = crypto.keyring()
    begin_write()
    changed = 0
    users = User.__table__
    columns = (users.c.email, users.c.phone, users.c.totp_secret)
    for row in db.session.execute(select(users.c.id, *columns)).all():
        db.session.execute(
            users.update()
            .where(users.c.id == row.id)
            .values(email=row.email, phone=row.phone, totp_secret=row.totp_secret)
        )
        changed += 1
    evaluations = Evaluation.__table__
    for row in db.session.execute(select(evaluations.c.id, evaluations.c.phone)).all():
        db.session.execute(
            evaluations.update().where(evaluations.c.id == row.id).values(phone=row.phone)
        )
        changed += 1
    record_security_event(
        "key_rotate",
        user=None,
        username="命令行",
        outcome="success",
        object="field-keyring",
        detail={"active": ring.active, "rows": changed},
    )
    db.session.commit()
    click.echo(f"已用密钥 {ring.active} 重新加密 {changed} 行")
