"""`flask import-forms PATH…`: read, score and (with --cycle) store many published forms.

Files, folders (recursively) and ZIP archives. By default the work runs here, with a
progress bar, through the same operation as the bulk worker; --enqueue hands it to the
``bulk`` queue instead (through the outbox) and returns at once. The report (.xlsx and
JSON, one row per form) is written next to --report, or under var/imports/.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from workflow.bulk import operations, queries, report
from workflow.bulk.sources import SourceError, expand_paths
from workflow.core.cli import fail, find
from workflow.core.extensions import db
from workflow.models import BulkImport, Cycle, User


def init_app(app: Flask) -> None:
    app.cli.add_command(import_forms_command)


def write_report(bulk_id: int, stem: Path) -> tuple[Path, Path]:
    """The import's report as ``stem.xlsx`` and ``stem.json``."""
    bulk = db.session.get(BulkImport, bulk_id)
    assert bulk is not None
    rows = queries.report_rows(bulk_id)
    summary = queries.summary(bulk, rows)
    stem.parent.mkdir(parents=True, exist_ok=True)
    xlsx, data = stem.with_suffix(".xlsx"), stem.with_suffix(".json")
    xlsx.write_bytes(report.report_xlsx(summary, rows))
    data.write_text(report.report_json(summary, rows), encoding="utf-8")
    return xlsx, data


@click.command("import-forms")
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--cycle", "cycle_ref", default=None, help="保存到哪个评价任务（ID 或名称）；不给则只读取和计分"
)
@click.option(
    "--as",
    "as_user",
    default=None,
    help="以哪个用户的名义导入（财政或系统管理员；缺省记为“命令行导入”）",
)
@click.option(
    "--report",
    "report_stem",
    default=None,
    type=click.Path(path_type=Path),
    help="报告文件名（不含扩展名），写 .xlsx 和 .json",
)
@click.option("--enqueue", is_flag=True, help="交给后台 bulk 队列处理，立即返回")
def import_forms_command(
    paths: tuple[Path, ...], cycle_ref: str | None, as_user: str | None,
    report_stem: Path | None, enqueue: bool,
) -> None:  # fmt: skip
    """批量导入已公布的自评表：文件、文件夹、ZIP；逐表读取、计分，给出 --cycle 时保存为各项目的评价表。"""
    cycle = None
    if cycle_ref is not None:
        cycle = find(Cycle, cycle_ref)
        if cycle is None:
            fail(f"找不到评价任务：{cycle_ref}")
            return
    user = None
    if as_user is not None:
        user = db.session.scalar(select(User).where(User.username == as_user))
        if user is None or not user.active:
            fail(f"找不到可用的用户：{as_user}")
            return
    try:
        files = expand_paths(paths)
    except SourceError as exc:
        fail(f"无法读取：{exc.message}", 2)
        return
    try:
        bulk, outbox_ids = operations.create_bulk_import(
            files, user=user, cycle=cycle, source="cli", enqueue=enqueue
        )
    except operations.BulkError as exc:
        fail(exc.message, 3 if exc.status == 404 else 1)
        return
    bulk_id = bulk.id
    if enqueue:
        from workflow.core.outbox import dispatch_now

        sent = dispatch_now(outbox_ids)
        later = "" if sent else "（消息队列暂不可用，稍后由发件箱中继交付）"
        click.echo(f"已排入后台队列：批量导入 #{bulk_id}，{len(files)} 个文件{later}")
        return
    with click.progressbar(length=len(files), label="导入中", show_pos=True, file=None) as bar:
        outcome = operations.run_bulk_import(bulk_id, progress=lambda _f: bar.update(1))
    if not outcome.finished:
        fail(f"批量导入 #{bulk_id} 正由其他进程处理")
        return
    stem = report_stem or Path(current_app.config["VAR_DIR"]) / "imports" / f"bulk-import-{bulk_id}"
    xlsx, data = write_report(bulk_id, stem)
    bulk = db.session.get(BulkImport, bulk_id)
    assert bulk is not None
    rows = queries.report_rows(bulk_id)
    s = queries.summary(bulk, rows)
    click.echo(
        f"批量导入 #{bulk_id}：{s['files']} 个文件，读取 {s['forms']} 张表（不完整 {s['incomplete']} 张），"
        f"无法读取 {s['unreadable']} 个，重复 {s['duplicates']} 个，保存 {s['stored']} 张"
    )
    unmatched = report.unmatched_units(rows)
    if unmatched:
        click.echo("未匹配的单位：")
        for item in unmatched:
            click.echo(f"  {item['unit']}（{item['forms']} 张表）")
    click.echo(f"报告：{xlsx}\n      {data}")
