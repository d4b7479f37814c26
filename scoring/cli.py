"""Command line: ``python -m scoring check FILE [--json]`` and ``python -m scoring validate FILE``.

``check`` imports a published form (text, .xlsx/.xls/.ods, .docx or PDF), recomputes it and
prints, for each indicator, the published and computed scores, the explanation and the flags
(the engine's and the comparison's: :mod:`scoring.importers.compare`), then the totals, the
grade of the computed total (none for an incomplete form), and the form's flags and import
problems.  A file with several forms prints each; ``--json`` gives the first form's object
with ``"forms": [...]`` holding all of them.  Exit 0 when the file was read (whatever its
flags), 2 when it could not be read (the reason, in Chinese, on stderr).

``validate`` checks a scheme file: exit 0 when valid, 1 when it was read but has problems
(one per line on stdout), 2 when it could not be read at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .engine import Flag
from .importers import FormReadError, import_forms
from .importers.compare import FormCheck, check_form
from .schemes import SchemeError, read_scheme_file, validate_scheme

__all__ = ["check_report", "main"]


def _flag(flag: Flag) -> dict[str, Any]:
    return {"code": flag.code, "message": flag.message, "blocking": flag.blocking}


def check_report(check: FormCheck) -> dict[str, Any]:
    """The ``check --json`` object of one form: numbers as strings, grade of the computed total."""
    result, card = check.result, check.card
    indicators = []
    for row in card.rows:
        indicators.append(
            {
                "code": row.code,
                "path": list(row.path),
                "weight": str(row.weight),
                "published": result.published.get(row.code) or None,
                "computed": None if row.score is None else str(row.score),
                "applicable": row.applicable,
                "explanation": row.explanation,
                "flags": [_flag(f) for f in check.row_flags[row.code]],
            }
        )
    return {
        "scheme": {"name": card.scheme_name, "version": card.scheme_version},
        "layout": result.layout,
        "total": {"published": result.published_total, "computed": str(card.total)},
        "grade": check.grade,
        "published_grade": result.published_grade,
        "indicators": indicators,
        "flags": [_flag(f) for f in check.flags],
        "blocking": check.blocking,
        "problems": [p.to_dict() for p in result.problems],
        "header": result.header,
        "incomplete": result.incomplete,
        "incomplete_reasons": list(result.incomplete_reasons),
        "source": result.source_kind,
    }


def _print_text(report: dict[str, Any]) -> None:
    out = sys.stdout
    scheme = report["scheme"]
    out.write(
        f"指标体系：{scheme['name']}（版本 {scheme['version']}），样式：{report['layout']}\n\n"
    )
    for item in report["indicators"]:
        published = item["published"] if item["published"] is not None else "—"
        computed = item["computed"] if item["computed"] is not None else "不适用/未计分"
        mark = "" if item["published"] in (None, item["computed"]) else _diff(item)
        out.write(
            f"{' / '.join(item['path'])}\n"
            f"  分值 {item['weight']}  公布得分 {published}  计算得分 {computed}{mark}\n"
            f"  {item['explanation']}\n"
        )
        for flag in item["flags"]:
            kind = "阻止提交" if flag["blocking"] else "提示"
            out.write(f"  [{kind}] {flag['message']}（{flag['code']}）\n")
    total = report["total"]
    out.write(
        f"\n公布总分 {total['published'] or '—'}  计算总分 {total['computed']}  "
        f"等级 {report['grade'] or '不评定（表格不完整）'}（公布等级 {report['published_grade'] or '—'}）\n"
    )
    for flag in report["flags"]:
        kind = "阻止提交" if flag["blocking"] else "提示"
        out.write(f"[{kind}] {flag['message']}（{flag['code']}）\n")
    for problem in report["problems"]:
        out.write(f"第 {problem['row']} 行：{problem['message']}\n")


def _diff(item: dict[str, Any]) -> str:
    try:
        from decimal import Decimal

        if item["computed"] is not None and Decimal(item["published"]) == Decimal(item["computed"]):
            return ""
    except ArithmeticError:
        pass
    return "  ← 与公布得分不同"


def _check(path: str, as_json: bool) -> int:
    try:
        results = import_forms(path)
    except FormReadError as exc:
        sys.stderr.write(f"无法读取：{exc.message}\n")
        return 2
    reports = [check_report(check_form(result)) for result in results]
    if as_json:
        report = dict(reports[0])
        if len(reports) > 1:
            report["forms"] = reports
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        return 0
    for index, report in enumerate(reports):
        if len(reports) > 1:
            sys.stdout.write(
                f"{'' if index == 0 else chr(10)}===== 第 {index + 1} 张表（共 {len(reports)} 张）=====\n"
            )
        _print_text(report)
    return 0


def _validate(path: str) -> int:
    try:
        data = read_scheme_file(path)
    except SchemeError as exc:
        sys.stderr.write(f"无法读取：{'；'.join(exc.problems)}\n")
        return 2
    problems = validate_scheme(data)
    if problems:
        for problem in problems:
            sys.stdout.write(problem + "\n")
        return 1
    sys.stdout.write(f"有效：{data.get('name')}（版本 {data.get('version')}）\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoring", description="绩效自评表计分工具")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="导入一张已公布的自评表并重新计分")
    check.add_argument("file")
    check.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    validate = commands.add_parser("validate", help="检查指标体系文件（JSON/YAML）")
    validate.add_argument("file")
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.file, args.json)
    return _validate(args.file)
