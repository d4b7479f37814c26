"""`flask evaluations xlsx`: write one evaluation's 自评表 workbook (the download's code);
`flask evaluations sheets-zip --queued`: build the ZIPs asked for on /workbooks/ here."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask

from workflow.evaluations.cli import evaluations_cli


def init_app(app: Flask) -> None:
    """Nothing to add: importing this module put the command on the evaluations group."""


@evaluations_cli.command("xlsx")
@click.argument("evaluation_id", type=int)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def evaluation_xlsx_command(evaluation_id: int, out: Path) -> None:
    """把一份评价表写成 Excel 自评表（与网页“下载Excel”同一套代码）。"""
    from workflow.core.extensions import db
    from workflow.documents.operations import atomic_write
    from workflow.models import Evaluation
    from workflow.workbooks.operations import workbook_of

    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None:
        click.echo(f"错误：找不到编号为 {evaluation_id} 的评价表", err=True)
        sys.exit(2)
    data = workbook_of(evaluation)
    atomic_write(out.resolve(), data)
    click.echo(f"已生成 {out}（{len(data) // 1024} KB）")


@evaluations_cli.command("sheets-zip")
@click.option("--queued", is_flag=True, required=True, help="生成网页上申请、尚未生成的 ZIP")
def sheets_zip_command(queued: bool) -> None:
    """生成“Excel 填报”页上申请的自评表 ZIP（没有 bulk 工作进程时使用，与工作进程同一套代码）。"""
    from workflow.core import jobs
    from workflow.workbooks import zipjob

    built = jobs.run_queued(zipjob.KIND)
    click.echo(f"已生成 {len(built)} 个 ZIP")
