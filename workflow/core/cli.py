"""The app-wide flask commands (init-db, state-diagram) and the helpers every feature's
commands share."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from workflow.core.extensions import db
from workflow.models import Cycle, Org


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(state_diagram_command)
    app.cli.add_command(outbox_cli)


outbox_cli = AppGroup("outbox", help="发件箱（PDF、通知等后台任务的交付记录）")


@outbox_cli.command("relay")
@click.option(
    "--rehand-after",
    type=int,
    default=None,
    help="未完成且上次交付早于此秒数的记录重新交付（缺省为 OUTBOX_REHAND_SECONDS）",
)
def outbox_relay_command(rehand_after: int | None) -> None:
    """立即交付发件箱中未完成的记录（与定时任务同一套代码，已完成的任务不会重复执行）。"""
    from datetime import timedelta

    from workflow.core.outbox import open_rows_count, relay_result

    result = relay_result(
        rehand_after=timedelta(seconds=rehand_after) if rehand_after is not None else None
    )
    click.echo(f"交付 {result.sent} 条（到期 {result.due} 条），未完成共 {open_rows_count()} 条")
    if result.sent < result.due:
        fail("部分记录未能交给消息队列（消息代理不可用？），稍后由定时任务重试")


def fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


@click.command("init-db")
@click.option(
    "--app-role",
    envvar="DB_APP_ROLE",
    default=None,
    help="PostgreSQL：迁移后授予此应用角色所需权限（缺省取 DB_APP_ROLE）",
)
@with_appcontext
def init_db_command(app_role: str | None) -> None:
    """创建或升级数据库（执行全部迁移）；PostgreSQL 上再为应用角色授权。"""
    from flask_migrate import upgrade

    from workflow.core.grants import apply_grants

    upgrade()
    if app_role and db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            apply_grants(conn, app_role)
        click.echo(f"已为应用角色 {app_role} 授权")
    click.echo("数据库已就绪")


@click.command("state-diagram")
@with_appcontext
@click.option("--targets", is_flag=True, help="打印绩效目标的状态图")
def state_diagram_command(targets: bool) -> None:
    """打印状态图（Mermaid），README 中的图由此生成。"""
    from workflow.machine import mermaid, targets_mermaid

    click.echo(targets_mermaid() if targets else mermaid())


def find(model: type[Cycle] | type[Org], ref: str) -> Cycle | Org | None:
    if ref.isdigit():
        return db.session.get(model, int(ref))
    return db.session.scalar(select(model).where(model.name == ref))


# --- users -----------------------------------------------------------------------------------
