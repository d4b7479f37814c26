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
def state_diagram_command() -> None:
    """打印状态图（Mermaid），README 中的图由此生成。"""


def find(model: type[Cycle] | type[Org], ref: str) -> Cycle | Org | None:
    if ref.isdigit():
        return db.session.get(model, int(ref))
    return db.session.scalar(select(model).where(model.name == ref))


# --- users -----------------------------------------------------------------------------------
