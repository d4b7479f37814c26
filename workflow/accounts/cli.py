"""The `users` flask commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from workflow.accounts import operations as accounts_ops
from workflow.admin.operations import AdminError
from workflow.core.cli import fail, find
from workflow.core.extensions import db
from workflow.machine import Role
from workflow.models import (
    Org,
    User,
)

users_cli = AppGroup("users", help="用户管理")


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)


@users_cli.command("create")
@click.argument("username")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--org", "org_ref", required=True, help="所属机构 ID 或名称")
@click.option("--email", default=None)
@click.option("--password", default=None, help="不填则随机生成并打印")
def users_create(
    username: str, name: str, role: str, org_ref: str, email: str | None, password: str | None
) -> None:
    """创建用户。"""

    org = find(Org, org_ref)
    if org is None:
        fail(f"找不到机构：{org_ref}")
        return
    from workflow.auth import passwords

    pw = password or passwords.generate()
    try:
        # An administrator from the command line only to bootstrap (fewer than two who could
        # approve); after that, one requests and another approves (admin pages).
        accounts_ops.create_user(
            username=username,
            name=name,
            role=role,
            org=org,
            email=email,
            password=pw,
            bootstrap=True,
        )
    except AdminError as exc:
        fail(str(exc))
        return
    click.echo(
        f"已创建用户 {username}"
        + ("" if password else f"，初始密码：{pw}")
        + "（首次登录须修改密码）"
    )


@users_cli.command("list")
def users_list() -> None:
    """列出用户。"""
    for user in db.session.scalars(select(User).order_by(User.id)):
        status = "启用" if user.active else "停用"
        click.echo(
            f"{user.id}\t{user.username}\t{user.name}\t{user.role_label}\t{user.org.name}\t{status}"
        )


@users_cli.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """停用用户（其所有登录立即失效）。"""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        fail(f"找不到用户：{username}")
        return

    try:
        accounts_ops.disable_user(user)
    except AdminError as exc:
        fail(exc.message)
        return
    click.echo(f"已停用 {username}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_set_password(username: str, password: str) -> None:
    """设置用户密码（其他登录立即失效）。"""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        fail(f"找不到用户：{username}")
        return

    try:
        accounts_ops.reset_password(user, password)
    except AdminError as exc:
        fail(exc.message)
        return
    click.echo(f"已设置 {username} 的密码")


@users_cli.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """解除因连续登录失败而锁定的账号（记入审计日志）。"""
    from workflow.auth import operations as auth_ops

    user = auth_ops.find_user(username)
    if user is None:
        fail(f"找不到用户：{username}")
        return
    auth_ops.unlock(user, by="命令行")
    click.echo(f"已解锁 {user.username}")


@users_cli.command("totp")
@click.argument("username")
def users_totp(username: str) -> None:
    """打印该用户当前的动态口令（仅开发环境，用于演示和测试；生产环境拒绝）。"""
    from flask import current_app

    from workflow.auth import operations as auth_ops
    from workflow.auth import totp

    if current_app.config.get("ENV_NAME") == "production":
        fail("生产环境不能打印动态口令。")
        return
    user = auth_ops.find_user(username)
    if user is None or not user.totp_secret:
        fail(f"找不到用户或该用户未绑定动态口令：{username}")
        return
    click.echo(totp.code_at(user.totp_secret))
