"""The app-wide flask commands (init-db, state-diagram) and the helpers every feature's
commands share."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from workflow.core.extensions import db
from workflow.models import Cycle, Org


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(state_diagram_command)


def fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """创建或升级数据库（执行全部迁移）。"""
    from flask_migrate import upgrade

    upgrade()
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
