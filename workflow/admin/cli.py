"""The administrator's flask commands: `demo` (demo organisations, users and evaluations)
and the `users` group."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

import scoring
from workflow.core.cli import fail, find
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.machine import ROLE_LABELS, Role
from workflow.models import Cycle, Evaluation, Org, OrgKind, Project, User

users_cli = AppGroup("users", help="用户管理")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(users_cli)


# --- demo data -------------------------------------------------------------------------------

DEMO_USERS = (
    # username, name, role, org key
    ("unit_a", "张晓", Role.UNIT_STAFF, "unit_a"),
    ("unit_a_head", "王建国", Role.UNIT_HEAD, "unit_a"),
    ("unit_b", "李敏", Role.UNIT_STAFF, "unit_b"),
    ("reviewer", "陈静", Role.REVIEWER, "dept_1"),
    ("unit_c", "刘洋", Role.UNIT_STAFF, "unit_c"),
    ("reviewer_2", "赵磊", Role.REVIEWER, "dept_2"),
    ("finance", "孙丽", Role.FINANCE, "finance"),
    # 三员分立: three administrators instead of one "admin".
    ("sysadmin", "周系统", Role.SYSADMIN, "finance"),
    ("secadmin", "吴安全", Role.SECADMIN, "finance"),
    ("auditor", "郑审计", Role.AUDITOR, "finance"),
)
DEMO_ORGS = {
    "finance": ("江苏省财政厅", OrgKind.FINANCE, None),
    "dept_1": ("江苏省政务服务管理办公室", OrgKind.DEPARTMENT, None),
    "dept_2": ("江苏省数据局", OrgKind.DEPARTMENT, None),
    "unit_a": ("江苏省政务服务管理办公室（机关）", OrgKind.UNIT, "dept_1"),
    "unit_b": ("江苏省政务服务中心", OrgKind.UNIT, "dept_1"),
    "unit_c": ("江苏省大数据管理中心", OrgKind.UNIT, "dept_2"),
}


def seed_entries(
    cycle_scheme: scoring.Scheme,
) -> tuple[dict[str, dict[str, object]], scoring.ImportResult]:
    """The seed form's entries, keyed by the cycle scheme's indicator codes (matched by path)."""
    from importlib.resources import files

    text = files("scoring").joinpath("samples/jiangsu_2022_seed.tsv").read_text(encoding="utf-8")
    result = scoring.import_form(text, layout="jiangsu")
    return map_entries(result, cycle_scheme), result


def map_entries(
    result: scoring.ImportResult, scheme: scoring.Scheme
) -> dict[str, dict[str, object]]:
    from workflow.admin import operations as admin_ops

    return admin_ops.map_entries(result, scheme)


def _demo_cycle() -> Cycle:
    scheme = scoring.builtin_scheme("jiangsu-2022")
    cycle = db.session.scalar(select(Cycle).where(Cycle.name == "2022年度省级项目支出绩效自评"))
    if cycle is None:
        cycle = Cycle(
            year=2022,
            name="2022年度省级项目支出绩效自评",
            scheme_key="jiangsu-2022",
            scheme_version=scheme.version,
            scheme=scheme.to_dict(),
            deadline_submit=date(2023, 4, 14),
            deadline_review=date(2023, 4, 28),
            deadline_confirm=date(2023, 5, 19),
            reminder_days=[7, 3, 1],
            day_kind="working",
        )
        db.session.add(cycle)
    return cycle


@click.command("demo")
@with_appcontext
@click.option("--password", default=None, help="所有演示账号的密码；不填则随机生成并打印")
def demo_command(password: str | None) -> None:
    """载入演示数据：江苏 2022 年度任务、两个主管部门、种子表及各账号（生产环境拒绝）。"""
    from flask import current_app

    from workflow.auth import operations as auth_ops
    from workflow.auth import passwords

    if current_app.config.get("ENV_NAME") == "production":
        fail("生产环境不能载入演示数据（演示账号的密码与动态口令密钥会被打印出来）。")
        return
    if password is not None:
        found = passwords.problems(password, "")
        if found:
            fail("演示密码不符合密码策略：" + "；".join(found))
            return
    orgs: dict[str, Org] = {}
    for key, (name, kind, parent) in DEMO_ORGS.items():
        org = db.session.scalar(select(Org).where(Org.name == name))
        if org is None:
            org = Org(name=name, kind=kind.value, parent=orgs[parent] if parent else None)
            db.session.add(org)
        orgs[key] = org
    db.session.flush()
    printed: list[tuple[str, str, str, str]] = []
    users: dict[str, User] = {}
    for username, name, role, org_key in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        pw = password or passwords.generate()
        if user is None:
            user = User(
                username=username,
                name=name,
                role=role.value,
                org=orgs[org_key],
                email=f"{username}@example.gov.cn",
            )
            db.session.add(user)
        # The demo prints the passwords for the people trying it: not a forced change.
        user.set_password(pw)
        secret = auth_ops.enrol_directly(user)
        users[username] = user
        printed.append((username, ROLE_LABELS[role], pw, secret))
    cycle = _demo_cycle()
    db.session.flush()
    if db.session.scalar(select(Evaluation).where(Evaluation.cycle_id == cycle.id)) is None:
        _demo_evaluations(cycle, orgs, users)
    db.session.commit()
    click.echo("演示数据已载入。账号（登录须输入密码和动态口令；密钥可手工加入任一 TOTP 认证器，")
    click.echo("开发环境下 `flask --app wsgi users totp 用户名` 打印当前口令）：")
    for username, label, pw, secret in printed:
        click.echo(
            f"  {username:<12} {label:<8} 密码：{pw if not password else '（已设为指定密码）'}"
            f"  动态口令密钥：{secret}"
        )


def _demo_evaluations(cycle: Cycle, orgs: dict[str, Org], users: dict[str, User]) -> None:
    scheme = scoring.scheme_from_dict(cycle.scheme)
    entries, result = seed_entries(scheme)
    header = result.header
    seed_project = Project(
        unit=orgs["unit_a"],
        name=str(header.get("project") or "政务服务信息系统建设维护和迭代升级"),
        summary=str(header.get("summary") or ""),
    )
    db.session.add(seed_project)
    seed = operations.create_evaluation(seed_project, cycle, entries)
    narratives = result.narratives
    seed.main_results = str(narratives.get("主要成效", ""))
    seed.problems = str(narratives.get("存在问题", ""))
    seed.measures = str(narratives.get("整改措施", ""))
    seed.filled_by = "张晓"
    seed.phone = "025-00000000"
    seed.unit_head = "王建国"
    seed.published = {
        "scores": result.published,
        "total": result.published_total,
        "grade": result.published_grade,
    }
    # More projects so that every queue and the dashboard have something to show; they go
    # through the real workflow (with audit rows), as users would have moved them.
    plans = (
        ("unit_a", "一体化政务服务平台安全运维", (), "优"),
        ("unit_b", "政务服务中心窗口服务提升", ("submit",), "良"),
        ("unit_b", "12345热线知识库建设", ("submit", "start_review"), "优"),
        ("unit_a", "“互联网+监管”系统运维", ("submit", "start_review", "approve"), "优"),
        ("unit_b", "政务服务事项标准化", ("submit", "start_review", "approve"), "良"),
        ("unit_c", "公共数据平台运维", ("submit", "start_review", "approve", "confirm"), "中"),
        ("unit_c", "数据共享交换平台升级", (), "优"),
    )
    actors = {"unit_a": users["unit_a"], "unit_b": users["unit_b"], "unit_c": users["unit_c"]}
    reviewers = {
        "unit_a": users["reviewer"],
        "unit_b": users["reviewer"],
        "unit_c": users["reviewer_2"],
    }
    created: list[tuple[Evaluation, str, tuple[str, ...]]] = []
    for unit_key, name, events, grade in plans:
        project = Project(
            unit=orgs[unit_key], name=name, summary=f"{name}项目，年度目标按批复执行。"
        )
        db.session.add(project)
        ev = operations.create_evaluation(project, cycle, {**entries, **_demo_variant(grade)})
        ev.filled_by = actors[unit_key].name
        ev.phone = "025-00000000"
        ev.main_results = "项目按计划实施，取得预期成效。"
        ev.problems = "无。"
        ev.measures = "无。"
        created.append((ev, unit_key, events))
    db.session.commit()
    for ev, unit_key, events in created:
        for event in events:
            actor = {
                "submit": actors[unit_key],
                "start_review": reviewers[unit_key],
                "approve": reviewers[unit_key],
                "confirm": users["finance"],
            }[event]
            operations.fire(actor, ev.id, event)


def _demo_variant(grade: str) -> dict[str, dict[str, object]]:
    """Entries that pull a demo form down to a lower grade, with the reasons the rules ask."""
    if grade == "优":
        return {}
    tier, score = ("部分达成", "6") if grade == "良" else ("未达成", "4")
    reason = "受项目进度影响，部分目标未完全实现；下一年度将加快实施进度。"
    variant: dict[str, dict[str, object]] = {
        code: {"actual": f"{tier}预期目标", "tier": tier, "score": score, "reason": reason}
        for code in ("economic_1", "social_1", "social_2")
    }
    if grade == "中":
        variant["quality_4"] = {
            "actual": "未达成预期目标",
            "tier": "未达成",
            "score": "1",
            "reason": reason,
        }
    return variant


# --- import ----------------------------------------------------------------------------------


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
    from workflow.admin import operations as admin_ops

    org = find(Org, org_ref)
    if org is None:
        fail(f"找不到机构：{org_ref}")
        return
    from workflow.auth import passwords

    pw = password or passwords.generate()
    try:
        # An administrator from the command line only to bootstrap (fewer than two who could
        # approve); after that, one requests and another approves (admin pages).
        admin_ops.create_user(
            username=username,
            name=name,
            role=role,
            org=org,
            email=email,
            password=pw,
            bootstrap=True,
        )
    except admin_ops.AdminError as exc:
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
    from workflow.admin import operations as admin_ops

    try:
        admin_ops.disable_user(user)
    except admin_ops.AdminError as exc:
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
    from workflow.admin import operations as admin_ops

    try:
        admin_ops.reset_password(user, password)
    except admin_ops.AdminError as exc:
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


# --- evaluations -----------------------------------------------------------------------------
