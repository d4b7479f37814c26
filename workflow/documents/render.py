"""The evaluation form as a PDF (WeasyPrint), laid out like the paper form.

`render_pdf` turns an evaluation into bytes; the worker's prerequisites (a CJK font,
HarfBuzz subsetting) are checked here. Storing the files is workflow.documents.operations;
both the Celery task and `flask evaluations pdf` call the same code, so an operator's PDF is
the worker's PDF.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from flask import current_app

from workflow.machine import STATE_LABELS, State
from workflow.models import Evaluation
from workflow.targets import queries as target_queries

log = logging.getLogger(__name__)
# WeasyPrint reports seven progress steps per document at INFO; the worker logs one line per
# PDF itself (documents/operations.py), and keeps WeasyPrint's warnings and errors.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_FONT = "Noto Sans CJK SC"
TEMPLATE = "pdf/evaluation.html"


class PdfPrerequisiteError(RuntimeError):
    """No CJK font or no HarfBuzz subsetting: the PDF would be wrong or ten times slower."""


# --------------------------------------------------------------------------- prerequisites


def cjk_fonts() -> list[str]:
    """Family names of the installed fonts that cover Chinese (fontconfig's view)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    out = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=20, check=False
    ).stdout
    families: list[str] = []
    for line in out.splitlines():
        for name in line.split(","):
            name = name.strip()
            if name and name not in families:
                families.append(name)
    return families


def harfbuzz_subsetting() -> bool:
    from weasyprint.pdf import fonts as pdf_fonts

    return bool(pdf_fonts.harfbuzz_subset) and bool(pdf_fonts.harfbuzz.hb_version_atleast(4, 1, 0))


def check_pdf_prerequisites(font: str | None = None) -> str:
    """Return the CJK font the PDFs will use, or raise PdfPrerequisiteError (in Chinese)."""
    wanted = font or _configured_font()
    families = cjk_fonts()
    if not families:
        raise PdfPrerequisiteError(
            "未安装中文字体（fc-list :lang=zh 为空），PDF 中的汉字会变成方框；"
            "请安装 fonts-noto-cjk 或 fonts-wqy-microhei"
        )
    if wanted not in families:
        raise PdfPrerequisiteError(
            f"未找到配置的中文字体“{wanted}”（PDF_FONT）；已安装：{', '.join(families[:8])}"
        )
    if not harfbuzz_subsetting():
        raise PdfPrerequisiteError(
            "缺少 HarfBuzz 字体子集库（Debian：libharfbuzz-subset0），"
            "WeasyPrint 会退回到慢十倍的 Python 子集化"
        )
    return wanted


def _configured_font() -> str:
    try:
        return str(current_app.config.get("PDF_FONT") or DEFAULT_FONT)
    except RuntimeError:
        return os.environ.get("PDF_FONT", DEFAULT_FONT)


# --------------------------------------------------------------------------- url fetcher


def static_only_fetcher(static_folder: str | None, base_url: str) -> Any:
    """A WeasyPrint URL fetcher that serves the app's own static files and nothing else.

    User text reaches the HTML; even escaped, a stylesheet or an image URL must never make
    the worker read a local file or call another host.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = Path(static_folder).resolve() if static_folder else None
    prefix = base_url.rstrip("/") + "/static/"

    class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if root is None:
                raise ValueError(f"refused URL (no static folder): {url[:200]}")
            if url.startswith(prefix):
                relative = unquote(urlsplit(url).path).split("/static/", 1)[1]
                path = (root / relative).resolve()
            elif url.startswith("file:"):
                path = Path(unquote(urlsplit(url).path)).resolve()
            else:
                raise ValueError(f"refused URL: {url[:200]}")
            if not path.is_relative_to(root) or not path.is_file():
                raise ValueError(f"refused URL outside the static folder: {url[:200]}")
            # With its type: WeasyPrint ignores a stylesheet that is not text/css.
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(
                path.as_uri(), path.read_bytes(), headers={"Content-Type": kind}
            )

    return StaticOnlyFetcher()


# --------------------------------------------------------------------------- the view


@dataclass
class Row:
    level1: str
    level2: str
    name: str
    target: str
    weight: str
    rule_text: str
    actual: str
    scores: list[str]
    rowspan1: int = 0  # >0 on the first row of a 一级 group: the merged cell's height
    rowspan2: int = 0
    empty: bool = False  # a group with no indicators (生态效益 in the seed)
    deviation: str = ""  # the unit's 偏差原因分析及改进措施


@dataclass(frozen=True)
class Adjustment:
    """A score changed by the department or finance, with the reason given for it."""

    indicator: str
    stage: str  # 主管部门审核 or 财政确认
    before: str
    after: str
    reason: str


@dataclass(frozen=True)
class OpinionLine:
    label: str
    text: list[str]
    who: str
    when: str


@dataclass
class FormView:
    title: str
    year: str
    unit: str
    department: str
    project: str
    summary: str
    state: str
    state_label: str
    watermark: str
    columns: list[str]
    rows: list[Row]
    total_weight: str
    totals: list[str]
    grades: list[str]
    main_results: list[str]
    problems: list[str]
    measures: list[str]
    signoff: list[tuple[str, str, str]] = field(default_factory=list)
    font: str = DEFAULT_FONT
    generated: str = ""
    # The SM2 seal as checked when the PDF was made: "签章有效 验证码 …" or "已篡改 …".
    seal: str = ""
    adjustments: list[Adjustment] = field(default_factory=list)
    opinions: list[OpinionLine] = field(default_factory=list)
    returned: str = ""  # the reason of the return that sent the form where it is now


def fmt_decimal(value: Decimal | int | float | str | None) -> str:
    """98.50 -> 98.5, 2.00 -> 2, None -> '' (the paper form prints no trailing zeros)."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    text = format(number.quantize(Decimal("0.01")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_TAG = re.compile(r"</?\s*(p|br|div)\b[^>]*>", re.IGNORECASE)


def paragraphs(text: str | None) -> list[str]:
    """Narrative text as paragraphs. Imported forms carry <p> tags (the seed's 主要成效):
    they become paragraph breaks; anything else stays text and is escaped by Jinja."""
    if not text:
        return []
    parts = _TAG.sub("\n", text)
    return [html.unescape(p).strip() for p in parts.split("\n") if p.strip()]


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def actual_text(entry: Any) -> str:
    """实际完成值 as the unit entered it (a tier label, a number, or both)."""
    if entry is None:
        return ""
    if isinstance(entry, dict):
        for key in ("actual_text", "actual", "label", "tier_label", "value", "tier"):
            value = entry.get(key)
            if value not in (None, ""):
                return fmt_decimal(value) if isinstance(value, int | float) else str(value)
        return ""
    return str(entry)


def _score_columns(evaluation: Evaluation) -> list[tuple[str, str]]:
    """(label, IndicatorScore attribute): self always, then the later stages once they exist."""
    columns = [("自评得分", "self_score")]
    if evaluation.dept_total is not None or any(r.dept_score is not None for r in evaluation.rows):
        columns.append(("审核得分", "dept_score"))
    if evaluation.final_total is not None or any(
        r.final_score is not None for r in evaluation.rows
    ):
        columns.append(("确认得分", "final_score"))
    return columns


def build_view(evaluation: Evaluation) -> FormView:
    from workflow.evaluations import operations

    scheme = operations.scheme_of(evaluation)  # parsed once per snapshot
    columns = _score_columns(evaluation)
    by_code = {row.code: row for row in evaluation.rows}
    entries = evaluation.entries or {}
    adjusted = target_queries.evaluation_target_texts(evaluation)

    # Walk the groups in order so that empty 二级 groups (生态效益) keep their line.
    level1 = [g.path[0] for g in scheme.groups if len(g.path) == 1]
    for ind in scheme.indicators:
        if ind.path[0] not in level1:
            level1.append(ind.path[0])
    rows: list[Row] = []
    adjustments: list[Adjustment] = []
    for top in level1:
        level2 = [g.path[1] for g in scheme.groups if len(g.path) == 2 and g.path[0] == top]
        for ind in scheme.indicators:
            if ind.path[0] == top and ind.path[1] not in level2:
                level2.append(ind.path[1])
        first_top = len(rows)
        for sub in level2:
            first_sub = len(rows)
            for ind in scheme.indicators:
                if ind.path[0] != top or ind.path[1] != sub:
                    continue
                score_row = by_code.get(ind.code)
                applicable = score_row is None or score_row.applicable
                scores = [
                    fmt_decimal(getattr(score_row, attr)) if score_row and applicable else ""
                    for _, attr in columns
                ]
                rows.append(
                    Row(
                        level1=top,
                        level2=sub,
                        name=ind.path[2],
                        target=adjusted.get(ind.code, ind.target.text),
                        weight=fmt_decimal(ind.weight),
                        rule_text=ind.rule_text,
                        actual=actual_text(entries.get(ind.code)) if applicable else "不适用",
                        scores=scores,
                        deviation=_deviation(entries.get(ind.code)) if applicable else "",
                    )
                )
                adjustments.extend(_adjustments(score_row, "／".join(p for p in ind.path if p)))
            if len(rows) == first_sub:
                rows.append(Row(top, sub, "", "", "", "", "", ["" for _ in columns], empty=True))
            rows[first_sub].rowspan2 = len(rows) - first_sub
        if len(rows) > first_top:
            rows[first_top].rowspan1 = len(rows) - first_top

    totals = [
        fmt_decimal(evaluation.self_total),
        fmt_decimal(evaluation.dept_total),
        fmt_decimal(evaluation.final_total),
    ]
    grades = [
        evaluation.self_grade or "",
        evaluation.dept_grade or "",
        evaluation.final_grade or "",
    ]
    index = {"self_score": 0, "dept_score": 1, "final_score": 2}
    keep = [index[attr] for _, attr in columns]

    state = State(evaluation.state)
    cycle = evaluation.cycle
    signoff = [
        (
            "填报人",
            evaluation.filled_by
            or (evaluation.submitted_by.name if evaluation.submitted_by else ""),
            _local(evaluation.submitted_at),
        ),
        ("联系电话", evaluation.phone or "", ""),
        ("单位负责人", evaluation.unit_head or "", ""),
        (
            "主管部门审核人",
            evaluation.reviewer.name if evaluation.reviewer else "",
            _local(evaluation.reviewed_at),
        ),
        (
            "财政确认人",
            evaluation.confirmer.name if evaluation.confirmer else "",
            _local(evaluation.confirmed_at),
        ),
    ]
    return FormView(
        title=scheme.title or "项目支出绩效自评表",
        year=f"{cycle.year}年度" if cycle else "",
        unit=evaluation.unit.name,
        department=evaluation.department.name,
        project=evaluation.project.name,
        summary=evaluation.project.summary or "",
        state=state.value,
        state_label=STATE_LABELS[state],
        watermark="" if state is State.CONFIRMED else STATE_LABELS[state],
        columns=[label for label, _ in columns],
        rows=rows,
        total_weight=fmt_decimal(scheme.total),
        totals=[totals[i] for i in keep],
        grades=[grades[i] for i in keep],
        main_results=paragraphs(evaluation.main_results),
        problems=paragraphs(evaluation.problems),
        measures=paragraphs(evaluation.measures),
        signoff=signoff,
        font=_configured_font(),
        generated=_local(datetime.now(LOCAL_TZ)),
        seal=_seal_line(evaluation),
        adjustments=adjustments,
        opinions=_opinions(evaluation),
        returned=evaluation.returned_reason or "",
    )


def _deviation(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("reason") or "").strip()
    return ""


def _adjustments(row: Any, name: str) -> list[Adjustment]:
    """Every changed score of a row, each with its reason (the review trail on paper)."""
    if row is None:
        return []
    found = []
    if row.dept_reason:
        found.append(
            Adjustment(
                name,
                "主管部门审核",
                fmt_decimal(row.self_score),
                fmt_decimal(row.dept_score),
                row.dept_reason,
            )
        )
    if row.final_reason:
        found.append(
            Adjustment(
                name,
                "财政确认",
                fmt_decimal(row.dept_score),
                fmt_decimal(row.final_score),
                row.final_reason,
            )
        )
    return found


def _opinions(evaluation: Evaluation) -> list[OpinionLine]:
    lines = []
    if evaluation.dept_opinion:
        lines.append(
            OpinionLine(
                "主管部门审核意见",
                paragraphs(evaluation.dept_opinion),
                evaluation.reviewer.name if evaluation.reviewer else "",
                _local(evaluation.reviewed_at),
            )
        )
    if evaluation.final_opinion:
        lines.append(
            OpinionLine(
                "财政确认意见",
                paragraphs(evaluation.final_opinion),
                evaluation.confirmer.name if evaluation.confirmer else "",
                _local(evaluation.confirmed_at),
            )
        )
    return lines


def _seal_line(evaluation: Evaluation) -> str:
    from workflow.evaluations import seal

    verdict = seal.verify(evaluation)
    if verdict.status == seal.UNSEALED:
        return ""
    line = f"SM2 签章：{verdict.label}　验证码 {verdict.code}　密钥 {verdict.key_id}"
    if verdict.problems:
        line += "（" + "；".join(verdict.problems) + "）"
    return line


# --------------------------------------------------------------------------- rendering


def render_html(evaluation: Evaluation) -> str:
    return view_html(build_view(evaluation))


def view_html(view: FormView) -> str:
    """The PDF's HTML of a form view (the public bundle renders an edited view). The app's
    Jinja environment without its context processors: they read the request and the
    logged-in user, which a worker does not have."""
    return current_app.jinja_env.get_template(TEMPLATE).render(
        form=view,
        static_base=str(current_app.config.get("APP_BASE_URL", "")).rstrip("/") + "/static/",
    )


_font_config: Any = None


def _fonts() -> Any:
    # One FontConfiguration per process: fontconfig's cache is then warm for every render.
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config = FontConfiguration()
    return _font_config


def html_to_pdf(source: str) -> tuple[bytes, int]:
    """Bytes and page count of an HTML document, rendered with the restricted fetcher."""
    from weasyprint import HTML

    app = current_app
    fetcher = static_only_fetcher(app.static_folder, str(app.config.get("APP_BASE_URL", "")))
    document = HTML(
        string=source, base_url=str(app.config.get("APP_BASE_URL", "")), url_fetcher=fetcher
    ).render(font_config=_fonts())
    data = document.write_pdf()
    return bytes(data), len(document.pages)


def render_pdf(evaluation: Evaluation) -> tuple[bytes, int]:
    return html_to_pdf(render_html(evaluation))
