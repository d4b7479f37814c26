"""`flask rechecks ...`: risk facts, 整改 reminders, the public bundle; and the demo batch."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from workflow.core.cli import fail
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.evaluations.operations import ScoreChange
from workflow.machine import RecheckEvent
from workflow.models import Cycle, RecheckItem, User

rechecks_cli = AppGroup("rechecks", help="抽查复核与结果应用")


def init_app(app: Flask) -> None:
    app.cli.add_command(rechecks_cli)


@rechecks_cli.command("facts")
@with_appcontext
@click.option("--cycle", "cycle_id", type=int, default=None, help="评价任务编号（缺省：全部）")
def facts_command(cycle_id: int | None) -> None:
    """重新计算风险规则所需的数据（已提交的评价表中缺失或过期的）。"""
    from workflow.rechecks import facts

    begin_write()
    done = facts.refresh(cycle_id=cycle_id)
    db.session.commit()
    click.echo(f"已更新 {done} 份评价表的风险数据")


@rechecks_cli.command("remind")
@with_appcontext
@click.option("--today", default=None, help="按此日期计算（YYYY-MM-DD）")
def remind_command(today: str | None) -> None:
    """提醒整改事项的责任人（到期前与逾期，每隔设定天数一次），邮件交由提醒队列发送。"""
    from workflow.rechecks.rectify import remind
    from workflow.reminders.tasks import send_claim_mail

    claims = remind(date.fromisoformat(today) if today else None)
    for claim_id in claims:
        send_claim_mail.apply(args=[claim_id, None])
    click.echo(f"已提醒 {len(claims)} 项整改事项")


@rechecks_cli.command("public-bundle")
@with_appcontext
@click.option("--cycle", "cycle_id", type=int, default=None)
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None)
@click.option("--queued", is_flag=True, help="在本进程中生成页面上申请、尚在排队的公开包")
def public_bundle_command(cycle_id: int | None, out: str | None, queued: bool) -> None:
    """生成评价任务的公开包（已确认的自评表 PDF 与结果汇总，不含个人信息）。"""
    from workflow.rechecks import bundle, publish

    if queued:
        built = publish.run_queued()
        click.echo(f"已生成 {len(built)} 个公开包")
        return
    if cycle_id is None or out is None:
        fail("请指定 --cycle 与 --out，或 --queued")
        return
    if db.session.get(Cycle, cycle_id) is None:
        fail("未找到该评价任务")
        return
    count = bundle.build_file(cycle_id, Path(out))
    click.echo(f"已写入 {out}：{count} 份自评表")


def seed_demo(cycle: Cycle, finance: User, expert: User) -> None:
    """The demo's batch: a risk-weighted sample of every submitted evaluation, assigned to the
    expert; one re-check done (its grade lowered, with reasons), one waiting for unit A's
    evidence, the others to do."""
    from workflow.rechecks import operations

    batch = operations.create_batch(
        finance, cycle.id, "2022年度抽查复核（第一批）", "risk", 20221231, rate=Decimal("1")
    )
    items = list(db.session.scalars(select(RecheckItem).where(RecheckItem.batch_id == batch.id)))
    for item in items:
        operations.assign(finance, item.id, expert.id)
    by_unit = {}
    for item in items:
        by_unit.setdefault(item.unit.name, item)
    done = next((i for i in items if i.evaluation.state == "confirmed"), None)
    if done is not None:
        operations.fire(expert, done.id, RecheckEvent.START)
        rows = sorted(done.evaluation.rows, key=lambda r: r.position)
        cuts = {}
        for row in rows:
            if row.applicable and row.self_score and row.self_score >= 4 and len(cuts) < 3:
                cuts[row.code] = ScoreChange(
                    row.self_score - Decimal(4), "佐证材料不足以支撑自评得分"
                )
        operations.fire(expert, done.id, RecheckEvent.COMPLETE, scores=cuts)
    waiting = next(
        (i for i in items if i.evaluation.unit.name.endswith("（机关）") and i is not done), None
    )
    if waiting is not None:
        operations.fire(expert, waiting.id, RecheckEvent.START)
        operations.fire(
            expert,
            waiting.id,
            RecheckEvent.REQUEST_EVIDENCE,
            reason="请补充系统运维合同验收报告及用户满意度调查原始记录。",
        )


@rechecks_cli.command("diagram")
def diagram_command() -> None:
    """打印复核状态图（Mermaid，README 中的图由此生成）。"""
    from workflow.machine import rechecks_mermaid

    click.echo(rechecks_mermaid())
