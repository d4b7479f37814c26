"""`flask evaluations pdf`: render one evaluation's PDF with the worker's code, without a
broker (an operator's PDF is the worker's PDF)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask

from workflow.evaluations.cli import evaluations_cli


def init_app(app: Flask) -> None:
    """Nothing to add: importing this module put the command on the evaluations group."""


@evaluations_cli.command("pdf")
@click.argument("evaluation_id", type=int)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def evaluation_pdf_command(evaluation_id: int, out: Path) -> None:
    """把一份评价表渲染为 PDF（与后台任务同一套代码）。"""
    from workflow.core.extensions import db
    from workflow.documents.operations import atomic_write
    from workflow.documents.render import PdfPrerequisiteError, check_pdf_prerequisites, render_pdf
    from workflow.models import Evaluation

    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None:
        click.echo(f"错误：找不到编号为 {evaluation_id} 的评价表", err=True)
        sys.exit(2)
    try:
        check_pdf_prerequisites()
    except PdfPrerequisiteError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(3)
    data, pages = render_pdf(evaluation)
    atomic_write(out.resolve(), data)
    click.echo(f"已生成 {out}（{pages} 页，{len(data) // 1024} KB）")
