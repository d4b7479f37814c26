"""Read published 自评表 exports (tab-separated text) into a scheme, entries and published scores.

Two layouts (domain-rules.md §3 and §4):

- ``jiangsu``: 省级项目支出绩效自我评价表 — 一级/二级/三级指标, 全年指标值, 分值, 评价要点及评分规则,
  实际完成值, 得分; footer 总计, 绩效等级, 主要成效, 存在问题, 整改措施.
- ``central``: 项目支出绩效自评表 — a 项目资金 block (年初预算数, 全年预算数, 全年执行数, 分值,
  执行率, 得分) with 当年财政拨款 / 上年结转资金 / 其他资金 rows; 年度总体目标; indicator rows
  (一级/二级/三级指标, 年度指标值, 实际完成值, 分值, 得分, 偏差原因分析及改进措施); 总分.

What real exports contain and how it is handled: rows shifted one column to the left (the row
is re-aligned by where its numbers sit), ragged rows, blank lines inside the table, cells
wrapped in quotes, ``<p>`` in narratives, placeholder rows ("指标2:", "……", skipped), "/",
"—", "-", "*" as empty, amounts with thousands separators, first-level labels reduced to
"(50分)" (the name is inferred from the 二级 label), labels inherited from the row above, and
blank named rows (the seed's 生态效益 / 可持续影响) kept as not-applicable rows of weight 0.
Every cell's original text is kept in :attr:`ImportResult.cells`.  Problems are reported with
their 1-based line number; only an unreadable file raises :class:`FormReadError`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .model import TIERS, Scheme, parse_target, tier_from_label
from .numbers import CTX, ZERO, InputError, fmt, parse_decimal
from .schemes import SchemeError, scheme_from_dict

__all__ = ["FormReadError", "ImportResult", "Problem", "import_form", "read_text"]

LAYOUTS = ("jiangsu", "central")
_NULLS = frozenset({"/", "／", "—", "——", "-", "--", "－", "*", "＊", "…", "……", "...", "无数据"})
_ENCODINGS = ("utf-8-sig", "gb18030")
_MAGIC = {
    b"%PDF": "PDF 文件",
    b"PK\x03\x04": "Excel/Word（zip）文件",
    b"\xd0\xcf\x11\xe0": "旧版 Excel/Word 文件",
    b"\x89PNG": "图片文件",
    b"\xff\xd8\xff": "图片文件",
}
_MAX_BYTES = 20 * 1024 * 1024

_YEAR = re.compile(r"(\d{4})\s*年度?")
_BLOCK_LABEL = re.compile(r"^(?P<name>.*?)\s*[（(]\s*(?P<weight>\d+(?:\.\d+)?)\s*分\s*[)）]\s*$")
_PLACEHOLDER = re.compile(r"^(?:指标\s*\d+\s*[:：]?|[…．.。、]+|\.\.\.)$")
_SHARE = re.compile(r"各占\s*(\d+(?:\.\d+)?\s*%|\d+\s*/\s*\d+)\s*(?:的)?权重")
_POINT = re.compile(r"[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]([^①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]*)")
_PARA = re.compile(r"<\s*/?\s*p\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_LABEL_VALUE = re.compile(
    r"^(?P<label>填报单位|项目名称|主管部门|实施单位|单位名称|填报日期)\s*[:：]\s*(?P<value>.*)$"
)

# Stable codes for the fixed framework rows (财预〔2020〕10号 attachment, as in the seed), so a
# form imported twice, or the shipped jiangsu-2022 scheme, gives the same codes.
_FRAMEWORK_CODES = {
    "立项依据充分性": "decision_basis",
    "立项程序规范性": "decision_procedure",
    "绩效目标合理性": "goal_reasonable",
    "绩效指标明确性": "goal_clarity",
    "预算编制科学性": "budget_scientific",
    "资金分配合理性": "fund_allocation",
    "资金到位率": "funds_arrival_rate",
    "预算执行率": "budget_execution_rate",
    "资金使用合规性": "funds_compliance",
    "管理制度健全性": "mgmt_rules_sound",
    "制度执行有效性": "mgmt_rules_effective",
}
# 二级 label words -> code prefix; also used to infer a lost 一级 label.
_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("数量", "quantity", "产出指标"),
    ("质量", "quality", "产出指标"),
    ("时效", "timeliness", "产出指标"),
    ("进度", "timeliness", "产出指标"),
    ("成本", "cost", "产出指标"),
    ("经济", "economic", "效益指标"),
    ("社会", "social", "效益指标"),
    ("生态", "ecological", "效益指标"),
    ("可持续", "sustainable", "效益指标"),
    ("满意", "satisfaction", "满意度指标"),
)
_NARRATIVES = ("主要成效", "存在问题", "整改措施")
_FOOTER_TOTALS = ("总计", "合计", "总分")
_GRADE_LABELS = ("绩效等级", "自评等级", "评价等级", "等级")


class FormReadError(Exception):
    """The input cannot be read as a form; ``message`` is one clear Chinese sentence."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the importer noticed, at a 1-based line number of the input."""

    row: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "message": self.message}


@dataclass(frozen=True)
class ImportResult:
    layout: str
    scheme: Scheme
    entries: dict[str, dict[str, Any]]
    published: dict[str, str]
    published_total: str | None
    published_grade: str | None
    header: dict[str, str]
    narratives: dict[str, str]
    cells: list[list[str]]
    problems: list[Problem] = field(default_factory=list)
    # code -> 1-based line number of the row it came from (for messages and the CLI).
    source_rows: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Reading text


def read_text(source: str | Path) -> str:
    """The text of a form given as a path or as the text itself; FormReadError otherwise."""
    if isinstance(source, str) and ("\n" in source or "\t" in source):
        return source
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormReadError(f"找不到文件：{path}") from None
    except IsADirectoryError:
        raise FormReadError(f"{path} 是目录，不是表格文件") from None
    except OSError as exc:
        raise FormReadError(f"无法读取文件 {path}：{exc.strerror or exc}") from None
    return decode_bytes(data, path.name)


def decode_bytes(data: bytes, name: str = "文件") -> str:
    if len(data) > _MAX_BYTES:
        raise FormReadError(f"{name} 超过 20 MB，不像是一张自评表")
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise FormReadError(f"{name} 是{kind}，请先导出为制表符分隔的文本（.txt/.tsv）再导入")
    if b"\x00" in data:
        raise FormReadError(f"{name} 是二进制文件，不是制表符分隔的文本")
    for encoding in _ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
        if controls > max(3, len(text) // 200):
            raise FormReadError(f"{name} 含有大量控制字符，不是文本文件")
        return text
    raise FormReadError(f"{name} 的文字编码无法识别（已尝试 UTF-8 和 GB18030）")


def _clean(cell: str) -> str:
    """Trim and unwrap a cell: "…" from exports and “…” around a whole cell."""
    text = cell.strip().replace("\u3000", " ").strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('""', '"').strip()
    if len(text) >= 2 and text[0] == "“" and text[-1] == "”" and text.count("“") == text.count("”"):
        inner = text[1:-1]
        if "“" not in inner:
            text = inner.strip()
    return text


def _value(cell: str) -> str:
    """A cell as data: the null marks become empty."""
    return "" if cell in _NULLS else cell


def _is_number(text: str) -> bool:
    if not text:
        return False
    try:
        parse_decimal(text, allow_percent=True)
    except InputError:
        return False
    return True


def _paragraphs(text: str) -> list[str]:
    parts = [html.unescape(_TAG.sub("", part)).strip() for part in _PARA.split(text)]
    return [part for part in parts if part]


# --------------------------------------------------------------------------------------
# Shared building blocks


@dataclass
class _Builder:
    """Collects the inferred scheme tree, entries and published values while rows are read."""

    layout: str
    problems: list[Problem] = field(default_factory=list)
    tree: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    block_weights: dict[str, Decimal] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    published: dict[str, str] = field(default_factory=dict)
    source_rows: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def problem(self, row: int, message: str) -> None:
        self.problems.append(Problem(row, message))

    def code_for(self, level2: str, level3: str) -> str:
        code = _FRAMEWORK_CODES.get(level3)
        if code is None or code in self.entries:
            prefix = "item"
            for word, category, _level1 in _CATEGORIES:
                if word in level2:
                    prefix = category
                    break
            self.counters[prefix] = self.counters.get(prefix, 0) + 1
            code = f"{prefix}_{self.counters[prefix]}"
        return code

    def add(
        self,
        line: int,
        path: tuple[str, str, str],
        leaf: dict[str, Any],
        entry: dict[str, Any],
        published: str,
    ) -> None:
        self.tree.setdefault(path[0], {}).setdefault(path[1], []).append(leaf)
        self.entries[leaf["code"]] = entry
        self.published[leaf["code"]] = published
        self.source_rows[leaf["code"]] = line

    def scheme(
        self, name: str, version: str, title: str, printed_total: Decimal | None, line: int
    ) -> Scheme:
        leaf_sum = sum(
            (
                Decimal(leaf["weight"])
                for subs in self.tree.values()
                for leaves in subs.values()
                for leaf in leaves
            ),
            ZERO,
        )
        total = leaf_sum
        if printed_total is not None and printed_total != leaf_sum:
            self.problem(
                line,
                f"总计分值 {fmt(printed_total)} 与各行分值合计 {fmt(leaf_sum)} 不一致，按各行合计计算",
            )
        tree: list[dict[str, Any]] = []
        for level1, subs in self.tree.items():
            block = self.block_weights.get(level1)
            inside = sum(
                (Decimal(leaf["weight"]) for leaves in subs.values() for leaf in leaves), ZERO
            )
            if block is not None and block != inside:
                self.problem(
                    line,
                    f"“{level1}”标注 {fmt(block)} 分，其下各行分值合计 {fmt(inside)} 分，已忽略标注",
                )
                block = None
            tree.append(
                {
                    "name": level1,
                    "weight": None if block is None else str(block),
                    "children": [
                        {"name": level2, "weight": None, "indicators": leaves}
                        for level2, leaves in subs.items()
                    ],
                }
            )
        data = {
            "name": name,
            "version": version,
            "title": title or "项目支出绩效自评表",
            "layout": self.layout,
            "description": "由导入的自评表推断",
            "total": str(total),
            "na_policy": "rescale",
            "tree": tree,
        }
        try:
            return scheme_from_dict(data)
        except SchemeError as exc:
            # Should not happen: every leaf is built valid.  Surface it as a read error rather
            # than a traceback, naming what is wrong.
            raise FormReadError("无法由表格推断指标体系：" + "；".join(exc.problems)) from None


def _level1_from(level2: str) -> str:
    for word, _category, level1 in _CATEGORIES:
        if word in level2:
            return level1
    return "其他指标"


def _infer_rule(
    level1: str,
    level2: str,
    level3: str,
    target_text: str,
    rule_text: str,
    line: int,
    builder: _Builder,
) -> dict[str, Any]:
    """The rule of a row from its rule text and target (what the printed form says)."""
    share = _SHARE.search(rule_text)
    if share:
        head = rule_text.split("评分规则")[0]
        points = [p.strip().rstrip("；;。，, ") for p in _POINT.findall(head)]
        points = [p for p in points if p]
        raw = share.group(1).replace(" ", "")
        shares: list[str] = []
        if points:
            each = CTX.divide(Decimal(raw[:-1]), Decimal(100)) if raw.endswith("%") else None
            if each is None:
                top, bottom = raw.split("/")
                each = CTX.divide(Decimal(top), Decimal(bottom))
            if abs(CTX.multiply(each, Decimal(len(points))) - 1) > Decimal("1e-9"):
                builder.problem(
                    line,
                    f"“{level3}”评分规则写明各占{raw}，但列出 {len(points)} 个评价要点，按平均权重计算",
                )
            else:
                shares = [raw if "/" in raw else str(each)] * len(points)
            return {"kind": "checklist", "points": points, "shares": shares}
        builder.problem(line, f"“{level3}”评分规则未列出评价要点，按整体档次评分")
        return {"kind": "tier"}
    if "预算执行率" in level3 or "执行率" in level3 and "预算" in level3:
        if "资金到位率×分值" in rule_text.replace(" ", ""):
            builder.problem(
                line,
                "“预算执行率”的评分规则写作“得分=资金到位率×分值”（抄写错误），按预算执行率×分值计算",
            )
        return {
            "kind": "ratio",
            "numerator_label": "实际支出资金",
            "denominator_label": "实际到位资金",
        }
    if "资金到位率" in level3:
        return {"kind": "ratio", "numerator_label": "实际到位资金", "denominator_label": "预算资金"}
    target = parse_target(target_text)
    if target.value is None:
        return {"kind": "tier"}
    if target.op in ("<=", "<"):
        return {"kind": "reverse", "reverse_formula": "ratio"}
    if target.op == "=":
        return {"kind": "equal"}
    if "满意" in level2 + level3 and target.unit == "%":
        return {"kind": "satisfaction"}
    return {"kind": "forward"}


def _leaf_entry(
    kind: str,
    actual: str,
    score_text: str,
    weight: Decimal,
    reason: str,
    line: int,
    name: str,
    builder: _Builder,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"imported": True}
    if actual:
        entry["actual"] = actual
    if reason:
        entry["reason"] = reason
    tier = tier_from_label(actual) if actual else None
    numeric_actual = (
        bool(actual)
        and _is_number(actual.split("（")[0].split("(")[0])
        or (bool(actual) and parse_target(actual).value is not None)
    )
    tier_scored = kind in ("tier", "checklist") or not numeric_actual
    if tier is not None:
        entry["tier"] = tier
    elif tier_scored and _is_number(score_text) and weight > 0:
        # No label, only a published score: the band the score lies in is the best reading.
        value = parse_decimal(score_text)
        fraction = CTX.divide(value, weight)
        for tier_name, band in TIERS.items():
            if band.low <= fraction and (
                fraction <= band.high if band.high_inclusive else fraction < band.high
            ):
                entry["tier"] = tier_name
                builder.problem(
                    line, f"“{name}”未填写达成档次，按得分 {fmt(value)} 推定为{tier_name}"
                )
                break
    if tier_scored and _is_number(score_text):
        entry["score"] = score_text
    if not actual and not score_text:
        builder.problem(line, f"“{name}”未填写实际完成值和得分")
    return entry


# --------------------------------------------------------------------------------------
# Table rows


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if 0 <= index < len(cells) else ""


def _best_offset(cells: list[str], cols: Mapping[str, int]) -> int:
    """0, or -1 when the row's numbers sit one column to the left (ragged tab exports).

    A row is taken as shifted only when its weight and score cells are not numbers where the
    header puts them, and the cells one to the left are: a blank 分值 alone is not enough.
    """

    def number_at(key: str, offset: int) -> bool:
        return _is_number(_value(_cell(cells, cols[key] + offset)))

    if number_at("weight", 0) or number_at("score", 0):
        return 0
    if number_at("weight", -1) and (
        number_at("score", -1) or bool(_value(_cell(cells, cols["actual"] - 1)))
    ):
        return -1
    return 0


def _read_indicator_rows(
    rows: list[list[str]],
    start: int,
    stop: int,
    cols: Mapping[str, int],
    builder: _Builder,
    default_level1: str = "",
) -> None:
    """Indicator rows between ``start`` and ``stop`` (0-based indexes into ``rows``)."""
    level1, level2 = default_level1, ""
    for index in range(start, stop):
        cells = rows[index]
        line = index + 1
        if not any(cells):
            continue  # blank line inside the table
        if any(c in ("一级指标", "三级指标") for c in cells):
            continue  # the second header row
        offset = _best_offset(cells, cols)
        if offset:
            builder.problem(line, "该行整体左移一列，已按列位置对齐后读取")
        raw1 = _value(_cell(cells, cols["level1"] + offset))
        raw2 = _value(_cell(cells, cols["level2"] + offset))
        raw3 = _value(_cell(cells, cols["level3"] + offset))
        if raw1:
            match = _BLOCK_LABEL.match(raw1)
            name = raw1
            if match:
                name = match.group("name").strip()
                if not name:
                    name = _level1_from(raw2 or level2)
                    builder.problem(line, f"一级指标只剩“{raw1}”，按二级指标推定为“{name}”")
                builder.block_weights[name] = Decimal(match.group("weight"))
            if name != level1:
                level1, level2 = name, ""
        if raw2:
            level2 = raw2
        if not level1:
            level1 = _level1_from(level2)
        weight_text = _value(_cell(cells, cols["weight"] + offset))
        target_text = _value(_cell(cells, cols["target"] + offset))
        actual = _value(_cell(cells, cols["actual"] + offset))
        score_text = _value(_cell(cells, cols["score"] + offset))
        rule_text = _value(_cell(cells, cols["rule"] + offset)) if "rule" in cols else ""
        reason = _value(_cell(cells, cols["reason"] + offset)) if "reason" in cols else ""
        shown3 = _cell(cells, cols["level3"] + offset)
        if shown3 and _PLACEHOLDER.match(shown3) and not (weight_text or actual or score_text):
            builder.problem(line, f"模板占位行“{shown3}”未填写，已跳过")
            continue
        if not raw3 and not (weight_text or actual or score_text or target_text):
            if not raw2:
                continue
            # A named but empty 二级 row (生态效益, 可持续影响): shown, not applicable, weight 0.
            raw3 = raw2
            na_reason = "该行未填写"
        elif not weight_text:
            na_reason = "分值为空"
        else:
            na_reason = ""
        level2 = level2 or level1
        name = raw3 or level2
        weight = ZERO
        if weight_text:
            try:
                weight = parse_decimal(weight_text)
            except InputError as exc:
                builder.problem(line, f"“{name}”的分值：{exc}，按不适用处理")
                na_reason = "分值无法识别"
        code = builder.code_for(level2, name)
        rule = _infer_rule(level1, level2, name, target_text, rule_text, line, builder)
        leaf = {
            "code": code,
            "name": name,
            "weight": str(weight),
            "target": target_text or None,
            "rule": rule,
            "rule_text": rule_text,
        }
        if na_reason:
            entry: dict[str, Any] = {"na": True, "imported": True}
            if raw3 != raw2 or na_reason != "该行未填写":
                builder.problem(line, f"“{name}”{na_reason}，按不适用处理")
        else:
            entry = _leaf_entry(
                rule["kind"], actual, score_text, weight, reason, line, name, builder
            )
            if actual and not score_text:
                builder.problem(line, f"“{name}”未填写得分")
        builder.add(line, (level1, level2, name), leaf, entry, score_text)


def _find_columns(cells: list[str], names: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    cols: dict[str, int] = {}
    for key, words in names.items():
        for index, cell in enumerate(cells):
            if any(word in cell for word in words):
                cols[key] = index
                break
    return cols


def _numbers(cells: list[str]) -> list[str]:
    return [c for c in cells if _is_number(_value(c))]


def _footer(
    rows: list[list[str]], start: int, cols: Mapping[str, int]
) -> tuple[Decimal | None, str | None, str | None, dict[str, str], int]:
    """总计 / 绩效等级 / narratives after the table; returns (printed total weight, total, grade, narratives, line)."""
    printed_weight: Decimal | None = None
    published_total: str | None = None
    grade: str | None = None
    narratives: dict[str, str] = {}
    total_line = start + 1
    for index in range(start, len(rows)):
        cells = rows[index]
        filled = [c for c in cells if c]
        if not filled:
            continue
        label = filled[0]
        if any(label.startswith(word) for word in _FOOTER_TOTALS) and published_total is None:
            total_line = index + 1
            # Read the 分值 and 得分 columns (the footer may be shifted like the rows above);
            # an empty 得分 is "not published", not the 100 printed beside it.
            offset = _best_offset(cells, cols)
            weight_text = _value(_cell(cells, cols["weight"] + offset))
            score_text = _value(_cell(cells, cols["score"] + offset))
            if _is_number(weight_text) or _is_number(score_text):
                printed_weight = parse_decimal(weight_text) if _is_number(weight_text) else None
                published_total = score_text if _is_number(score_text) else None
            else:
                numbers = _numbers(filled[1:])
                if numbers:
                    published_total = numbers[-1]
                    if len(numbers) > 1:
                        printed_weight = parse_decimal(numbers[0])
            continue
        if any(label.startswith(word) for word in _GRADE_LABELS) and grade is None:
            grade = next(
                (c for c in filled[1:] if c in ("优", "良", "中", "差")),
                filled[1] if len(filled) > 1 else None,
            )
            continue
        for word in _NARRATIVES:
            if label.startswith(word):
                original = filled[1] if len(filled) > 1 else ""
                # Paragraphs one per line for display; the original (with its <p>) kept too.
                narratives[word] = "\n".join(_paragraphs(original))
                narratives[word + "_original"] = original
    return printed_weight, published_total, grade, narratives, total_line


# --------------------------------------------------------------------------------------
# Layouts


def _detect(rows: list[list[str]]) -> str | None:
    text = "\n".join("\t".join(r) for r in rows[:80])
    if "评价要点" in text or "自我评价表" in text:
        return "jiangsu"
    if "年度总体目标" in text or "全年预算数" in text or "偏差原因" in text or "年度指标值" in text:
        return "central"
    return None


def _header_fields(rows: list[list[str]], stop: int) -> dict[str, str]:
    header: dict[str, str] = {}
    keys = {
        "填报单位": "unit",
        "单位名称": "unit",
        "实施单位": "unit",
        "项目名称": "project",
        "主管部门": "department",
        "填报日期": "date",
        "项目概况": "summary",
        "项目负责人": "project_leader",
        "联系电话": "phone",
    }
    for cells in rows[:stop]:
        filled = [c for c in cells if c]
        if not filled:
            continue
        if "title" not in header and len(filled) == 1 and "表" in filled[0]:
            header["title"] = filled[0]
        for cell in filled:
            year = _YEAR.search(cell)
            if year and "year" not in header and len(cell) <= 16:
                header["year"] = year.group(1)
        for index, cell in enumerate(filled):
            match = _LABEL_VALUE.match(cell)
            if match and match.group("value"):
                header.setdefault(keys[match.group("label")], match.group("value").strip())
                continue
            key = keys.get(cell.rstrip("：:"))
            if (
                key
                and index + 1 < len(filled)
                and keys.get(filled[index + 1].rstrip("：:")) is None
            ):
                header.setdefault(key, filled[index + 1])
    return header


def _import_jiangsu(rows: list[list[str]], builder: _Builder) -> ImportResult:
    head = next(
        (
            i
            for i, r in enumerate(rows)
            if any("分值" in c for c in r) and any("指标值" in c for c in r)
        ),
        None,
    )
    if head is None:
        raise FormReadError("没有找到指标表（缺少“全年指标值 / 分值”表头行）")
    cols = _find_columns(
        rows[head],
        {
            "target": ("指标值",),
            "weight": ("分值",),
            "rule": ("评价要点",),
            "actual": ("实际完成值", "完成值"),
            "score": ("得分",),
        },
    )
    if len(cols) < 5:
        raise FormReadError(
            "指标表表头不完整：需要 全年指标值、分值、评价要点及评分规则、实际完成值、得分"
        )
    cols.update({"level1": 0, "level2": 1, "level3": 2})
    stop = _table_end(rows, head + 1)
    _read_indicator_rows(rows, head + 1, stop, cols, builder)
    header = _header_fields(rows, head)
    return _finish(rows, stop, cols, header, builder, "jiangsu")


def _table_end(rows: list[list[str]], start: int) -> int:
    for index in range(start, len(rows)):
        filled = [c for c in rows[index] if c]
        if filled and any(
            filled[0].startswith(word) for word in (*_FOOTER_TOTALS, *_GRADE_LABELS[:3])
        ):
            return index
    return len(rows)


_FUND_ROWS = (
    ("年度资金总额", "budget"),
    ("财政拨款", "current_appropriation"),
    ("上年结转", "carry_over"),
    ("其他资金", "other_funds"),
)


def _import_central(rows: list[list[str]], builder: _Builder) -> ImportResult:
    head = next(
        (
            i
            for i, r in enumerate(rows)
            if any("一级指标" in c for c in r) and any("指标值" in c for c in r)
        ),
        None,
    )
    if head is None:
        raise FormReadError("没有找到指标表（缺少“一级指标 / 年度指标值”表头行）")
    cols = _find_columns(
        rows[head],
        {
            "level1": ("一级指标",),
            "level2": ("二级指标",),
            "level3": ("三级指标",),
            "target": ("指标值",),
            "actual": ("实际完成值", "完成值"),
            "weight": ("分值",),
            "score": ("得分",),
            "reason": ("偏差原因",),
        },
    )
    for key in ("level1", "level2", "level3", "target", "actual", "weight", "score"):
        if key not in cols:
            raise FormReadError(
                "指标表表头不完整：需要 一级/二级/三级指标、年度指标值、实际完成值、分值、得分"
            )
    header = _header_fields(rows, head)
    _read_funds(rows, head, header, builder)
    _read_goals(rows, head, header)
    stop = _table_end(rows, head + 1)
    _read_indicator_rows(rows, head + 1, stop, cols, builder)
    return _finish(rows, stop, cols, header, builder, "central")


def _read_funds(
    rows: list[list[str]], stop: int, header: dict[str, str], builder: _Builder
) -> None:
    fund_head = next(
        (
            i
            for i in range(stop)
            if any("全年预算数" in c for c in rows[i]) and any("执行数" in c for c in rows[i])
        ),
        None,
    )
    if fund_head is None:
        builder.problem(1, "没有找到项目资金（预算执行）表，预算执行率不计分")
        return
    cells = rows[fund_head]
    cols = _find_columns(
        cells,
        {
            "initial": ("年初预算数",),
            "full": ("全年预算数", "调整后预算数"),
            "executed": ("全年执行数", "预算执行数"),
            "weight": ("分值",),
            "rate": ("执行率",),
            "score": ("得分",),
        },
    )
    unit_cell = next((c for c in cells if "万元" in c or "（元）" in c or "(元)" in c), "")
    header["amount_unit"] = "万元" if "万元" in unit_cell else ("元" if unit_cell else "")
    first_amount = min(cols.get("initial", 99), cols.get("full", 99))
    for index in range(fund_head + 1, stop):
        row = rows[index]
        label = " ".join(c for c in row[:first_amount] if c)
        if "年度总体目标" in label or "预期目标" in label:
            break
        for word, key in _FUND_ROWS:
            if word not in label:
                continue
            for col in ("initial", "full", "executed", "rate"):
                if col in cols:
                    header[f"{key}_{col}"] = _cell(row, cols[col])
            if key == "budget":
                _add_budget(row, cols, index + 1, header, builder)
            break


def _add_budget(
    row: list[str], cols: Mapping[str, int], line: int, header: dict[str, str], builder: _Builder
) -> None:
    weight_text = _value(_cell(row, cols.get("weight", -1)))
    score_text = _value(_cell(row, cols.get("score", -1)))
    try:
        weight = parse_decimal(weight_text) if weight_text else Decimal(10)
    except InputError:
        builder.problem(line, f"年度资金总额的分值“{weight_text}”无法识别，按 10 分计")
        weight = Decimal(10)
    if not weight_text:
        builder.problem(line, "年度资金总额未填分值，按 10 分计")
    entry: dict[str, Any] = {"imported": True}
    full = _value(header.get("budget_full", ""))
    executed = _value(header.get("budget_executed", ""))
    initial = _value(header.get("budget_initial", ""))
    if full or executed:
        entry["numerator"] = executed
        entry["denominator"] = full
    if initial:
        entry["initial"] = initial
    leaf = {
        "code": "budget_execution",
        "name": "年度资金总额",
        "weight": str(weight),
        "target": "100%",
        "rule": {
            "kind": "budget",
            "numerator_label": "全年执行数",
            "denominator_label": "全年预算数",
            "reason_below": "0.90",
        },
        "rule_text": "得分 = 分值 × 执行率（全年执行数 / 全年预算数），最高为分值",
    }
    builder.add(line, ("预算执行", "预算执行率", "年度资金总额"), leaf, entry, score_text)


def _read_goals(rows: list[list[str]], stop: int, header: dict[str, str]) -> None:
    goal_head = next(
        (
            i
            for i in range(stop)
            if any("预期目标" in c for c in rows[i]) and any("实际完成情况" in c for c in rows[i])
        ),
        None,
    )
    if goal_head is None:
        return
    cols = _find_columns(rows[goal_head], {"expected": ("预期目标",), "actual": ("实际完成情况",)})
    for index in range(goal_head + 1, stop):
        row = rows[index]
        expected = _value(_cell(row, cols["expected"]))
        actual = _value(_cell(row, cols["actual"]))
        if expected or actual:
            header["goal_expected"] = expected
            header["goal_actual"] = actual
            return


def _finish(
    rows: list[list[str]],
    stop: int,
    cols: Mapping[str, int],
    header: dict[str, str],
    builder: _Builder,
    layout: str,
) -> ImportResult:
    if not builder.entries:
        raise FormReadError("指标表中没有可读取的指标行")
    printed_weight, published_total, grade, narratives, total_line = _footer(rows, stop, cols)
    year = header.get("year", "")
    scheme = builder.scheme(
        f"{layout}-import",
        year or "imported",
        header.get("title", ""),
        printed_weight,
        total_line,
    )
    return ImportResult(
        layout=layout,
        scheme=scheme,
        entries=builder.entries,
        published=builder.published,
        published_total=published_total,
        published_grade=grade,
        header=header,
        narratives=narratives,
        cells=[],
        problems=builder.problems,
        source_rows=builder.source_rows,
    )


def import_form(path_or_text: str | Path, layout: str | None = None) -> ImportResult:
    """Read a published form (path, or the text itself); detects the layout unless given."""
    text = read_text(path_or_text)
    original = [line.rstrip("\r").split("\t") for line in text.split("\n")]
    rows = [[_clean(cell) for cell in line] for line in original]
    if layout is None:
        layout = _detect(rows)
        if layout is None:
            raise FormReadError(
                "没有找到指标表：既不是江苏省级自我评价表，也不是项目支出绩效自评表"
            )
    elif layout not in LAYOUTS:
        raise FormReadError(f"未知的表格样式：{layout}（可用：{', '.join(LAYOUTS)}）")
    builder = _Builder(layout)
    result = (
        _import_jiangsu(rows, builder) if layout == "jiangsu" else _import_central(rows, builder)
    )
    # Keep every cell exactly as it was in the file (only the line break is removed).
    return ImportResult(
        layout=result.layout,
        scheme=result.scheme,
        entries=result.entries,
        published=result.published,
        published_total=result.published_total,
        published_grade=result.published_grade,
        header=result.header,
        narratives=result.narratives,
        cells=original,
        problems=result.problems,
        source_rows=result.source_rows,
    )
