"""Indicator rows: labels inherited from above, split targets, rules, entries, block labels.

A row's cells are read by column role (:mod:`.columns`).  What real exports hold and how it
is read: rows shifted one column to the left (re-aligned by where the numbers sit), blank
lines, the second header row and headers repeated after a page break (skipped), block label
rows such as "年度绩效目标1(40分)" (a new block with its printed total), first-level labels
reduced to "(50分)" (the name is inferred from the 二级 label), placeholder rows ("指标2:",
"……", skipped), blank named rows (kept as not applicable, weight 0), a "/" or "—" actual
(不适用 under the scheme's policy), targets split into 指标性质 / 指标值 / 度量单位 columns,
and date targets (2023年12月31日前, 12月底前) compared as dates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..model import TIERS, Target, parse_target, tier_from_label
from ..numbers import CTX, ZERO, InputError, fmt, parse_decimal
from .base import Problem
from .cells import cell, is_null, is_number, value
from .columns import header_base, map_header, operator_of, total_words

BLOCK_LABEL = re.compile(r"^(?P<name>.*?)\s*[（(]\s*(?P<weight>\d+(?:\.\d+)?)\s*分\s*[)）]\s*$")
_PLACEHOLDER = re.compile(r"^(?:指标\s*\d+\s*[:：]?|[…．.。、]+|\.\.\.)$")
_SHARE = re.compile(r"各占\s*(\d+(?:\.\d+)?\s*%|\d+\s*/\s*\d+)\s*(?:的)?权重")
_POINT = re.compile(r"[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]([^①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]*)")
_DATE = re.compile(
    r"^(?:(?P<y>\d{4})\s*[年.\-/])?\s*(?P<m>\d{1,2})\s*月?(?:\s*[.\-/]?\s*(?P<d>\d{1,2})\s*日?)?"
    r"\s*(?P<end>底|末)?\s*(?P<before>前|之前|以前)?\s*(?:完成)?$"
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


@dataclass
class Block:
    """Rows under one printed total: "年度绩效目标1(40分)", "绩效指标(90分)"."""

    label: str
    weight: Decimal
    line: int
    codes: list[str] = field(default_factory=list)


@dataclass
class Builder:
    """Collects the inferred scheme tree, entries and published values while rows are read."""

    layout: str
    year: str = ""
    problems: list[Problem] = field(default_factory=list)
    tree: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    group_weights: dict[str, Decimal] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    published: dict[str, str] = field(default_factory=dict)
    source_rows: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    # Codes of rows whose weight is not printed (no 分值 column): inferred from block totals.
    unweighted: list[str] = field(default_factory=list)
    missing_actual: list[str] = field(default_factory=list)

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
        if self.blocks:
            self.blocks[-1].codes.append(leaf["code"])

    def leaf(self, code: str) -> dict[str, Any]:
        for subs in self.tree.values():
            for leaves in subs.values():
                for leaf in leaves:
                    if leaf["code"] == code:
                        return leaf
        raise KeyError(code)


def level1_from(level2: str) -> str:
    for word, _category, level1 in _CATEGORIES:
        if word in level2:
            return level1
    return "其他指标"


def indicator_roles(cells: list[str]) -> dict[str, int] | None:
    """The roles of an indicator table's header row, or None when the row is not one."""
    roles = map_header(cells, "indicator")
    if len(roles) >= 3 and ("target" in roles or "actual" in roles):
        return roles
    return None


def is_total_row(cells: list[str]) -> bool:
    """A 总分 / 合计 row: the word in one of the first filled cells, wherever it stands."""
    filled = [c for c in cells if c][:4]
    words = total_words()
    return any(header_base(c).startswith(words) for c in filled if len(c) <= 12)


def block_label(cells: list[str]) -> tuple[str, Decimal] | None:
    """A row that only says "年度绩效目标1(40分)" (or "(40分)"): its name and points."""
    filled = [c for c in cells if c]
    if len(filled) != 1:
        return None
    match = BLOCK_LABEL.match(filled[0])
    if match is None:
        return None
    return match.group("name").strip(), Decimal(match.group("weight"))


def date_of(text: str, year: str) -> dt.date | None:
    """2023年12月 / 2023年12月31日前 / 12月底前 / 2023-12-31 as a date (a month: its last day)."""
    match = _DATE.match(text.strip().lstrip("<=≤"))
    if match is None or not (match.group("y") or year):
        return None
    if not match.group("y") and "月" not in text:
        return None
    try:
        y, m = int(match.group("y") or year), int(match.group("m"))
        if match.group("d"):
            return dt.date(y, m, int(match.group("d")))
        last = (dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.timedelta(days=1)
        return last
    except ValueError:
        return None


def split_target(cells: list[str], cols: Mapping[str, int], offset: int) -> str:
    """The target as one text: 指标性质 + 指标值 + 度量单位 when split, any sign spelling."""
    raw = value(cell(cells, cols["target"] + offset)) if "target" in cols else ""
    if "op" in cols:
        sign = value(cell(cells, cols["op"] + offset))
        unit = value(cell(cells, cols["unit"] + offset)) if "unit" in cols else ""
        op, _rest = operator_of(sign)
        if op == "qualitative" or not raw:
            return raw
        if op is None and sign:
            return f"{sign}{raw}{unit}"
        text = raw if not unit or raw.endswith(unit) else raw + unit
        return f"{op or ''}{text}"
    op, rest = operator_of(raw)
    if op and op != "qualitative":
        return f"{op}{rest}"
    return raw


def _rule(
    level2: str, level3: str, target_text: str, rule_text: str, line: int, b: Builder
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
                b.problem(
                    line,
                    f"“{level3}”评分规则写明各占{raw}，但列出 {len(points)} 个评价要点，按平均权重计算",
                )
            else:
                shares = [raw if "/" in raw else str(each)] * len(points)
            return {"kind": "checklist", "points": points, "shares": shares}
        b.problem(line, f"“{level3}”评分规则未列出评价要点，按整体档次评分")
        return {"kind": "tier"}
    if "预算执行率" in level3 or "执行率" in level3 and "预算" in level3:
        if "资金到位率×分值" in rule_text.replace(" ", ""):
            b.problem(
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


def _entry(kind: str, actual: str, score_text: str, weight: Decimal, reason: str, line: int, name: str, b: Builder) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {"imported": True}
    if actual:
        entry["actual"] = actual
    if reason:
        entry["reason"] = reason
    tier = tier_from_label(actual) if actual else None
    numeric_actual = bool(actual) and (
        is_number(actual.split("（")[0].split("(")[0]) or parse_target(actual).value is not None
    )
    tier_scored = kind in ("tier", "checklist") or not numeric_actual
    if tier is not None:
        entry["tier"] = tier
    elif tier_scored and is_number(score_text) and weight > 0 and not is_null(actual):
        # No label, only a published score: the band the score lies in is the best reading.
        number = parse_decimal(score_text)
        fraction = CTX.divide(number, weight)
        for tier_name, band in TIERS.items():
            if band.low <= fraction and (
                fraction <= band.high if band.high_inclusive else fraction < band.high
            ):
                entry["tier"] = tier_name
                b.problem(line, f"“{name}”未填写达成档次，按得分 {fmt(number)} 推定为{tier_name}")
                break
    if tier_scored and is_number(score_text) and not is_null(actual):
        entry["score"] = score_text
    return entry


def best_offset(cells: list[str], cols: Mapping[str, int]) -> int:
    """0, or -1 when the row's numbers sit one column to the left (ragged tab exports).

    A row is taken as shifted only when its weight and score cells are not numbers where the
    header puts them, and the cells one to the left are: a blank 分值 alone is not enough.
    """
    if "weight" not in cols or "score" not in cols:
        return 0

    def number_at(key: str, offset: int) -> bool:
        return is_number(value(cell(cells, cols[key] + offset)))

    if number_at("weight", 0) or number_at("score", 0):
        return 0
    if number_at("weight", -1) and (
        number_at("score", -1) or bool(value(cell(cells, cols["actual"] - 1)))
    ):
        return -1
    return 0


def read_rows(rows: list[list[str]], start: int, cols: Mapping[str, int], b: Builder, base: int) -> int:  # fmt: skip
    """Indicator rows from ``start`` to the total row (0-based); returns that row's index.

    ``base`` is the 0-based index of ``rows[0]`` in the file, for 1-based line numbers.
    Returns ``len(rows)`` when the table has no total row (the form was cut off).
    """
    level1, level2 = "", ""
    for index in range(start, len(rows)):
        cells = rows[index]
        line = base + index + 1
        if not any(cells):
            continue  # blank line inside the table
        if is_total_row(cells):
            return index
        label = block_label(cells)
        if label is not None and not label[0].endswith("指标"):
            b.blocks.append(Block(label[0], label[1], line))
            level1, level2 = "", ""
            continue
        if any(c in ("一级指标", "三级指标") for c in cells) or indicator_roles(cells):
            continue  # the second header row, or a header repeated after a page break
        offset = best_offset(cells, cols)
        if offset:
            b.problem(line, "该行整体左移一列，已按列位置对齐后读取")
        raw1 = value(cell(cells, cols["level1"] + offset))
        raw2 = value(cell(cells, cols["level2"] + offset))
        raw3 = value(cell(cells, cols["level3"] + offset))
        if raw1:
            match = BLOCK_LABEL.match(raw1)
            name = raw1
            if match:
                name = match.group("name").strip()
                if not name:
                    name = level1_from(raw2 or level2)
                    b.problem(line, f"一级指标只剩“{raw1}”，按二级指标推定为“{name}”")
                b.group_weights[name] = Decimal(match.group("weight"))
            if name != level1:
                level1, level2 = name, ""
        if raw2:
            level2 = raw2
        if not level1:
            level1 = level1_from(level2)
        _one_row(cells, cols, offset, line, (level1, level2 or level1, raw2, raw3), b)
    return len(rows)


def _one_row(cells: list[str], cols: Mapping[str, int], offset: int, line: int, labels: tuple[str, str, str, str], b: Builder) -> None:  # fmt: skip
    level1, level2, raw2, raw3 = labels

    def at(key: str) -> str:
        return cell(cells, cols[key] + offset) if key in cols else ""

    weighted = "weight" in cols
    weight_text = value(at("weight"))
    target_text = split_target(cells, cols, offset)
    raw_actual = at("actual")
    actual = "/" if is_null(raw_actual) else value(raw_actual)
    score_text = value(at("score"))
    rule_text = value(at("rule"))
    reason = value(at("reason"))
    shown3 = at("level3")
    if shown3 and _PLACEHOLDER.match(shown3) and not (weight_text or actual or score_text):
        b.problem(line, f"模板占位行“{shown3}”未填写，已跳过")
        return
    filled = weight_text or value(raw_actual) or score_text or target_text
    if not filled:
        if not (raw3 or raw2):
            return
        # A named but empty row (生态效益, 可持续影响): shown, not applicable, weight 0.
        raw3, na_reason = raw3 or raw2, "该行未填写"
    elif weighted and not weight_text:
        na_reason = "分值为空"
    else:
        na_reason = ""
    name = raw3 or level2
    weight = ZERO
    if weight_text:
        try:
            weight = parse_decimal(weight_text)
        except InputError as exc:
            b.problem(line, f"“{name}”的分值：{exc}，按不适用处理")
            na_reason = "分值无法识别"
    code = b.code_for(level2, name)
    rule = _rule(level2, name, target_text, rule_text, line, b)
    leaf: dict[str, Any] = {
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
            b.problem(line, f"“{name}”{na_reason}，按不适用处理")
    else:
        if not weighted:
            b.unweighted.append(code)
        _date_target(leaf, actual, line, b)
        entry = _entry(leaf["rule"]["kind"], actual, score_text, weight, reason, line, name, b)
        if leaf.get("date_actual") is not None:
            entry["actual"] = leaf.pop("date_actual")
        if not actual:
            b.missing_actual.append(code)
            b.problem(line, f"“{name}”未填写实际完成值" + ("和得分" if not score_text else ""))
        elif not score_text:
            b.problem(line, f"“{name}”未填写得分")
    b.add(line, (level1, level2, name), leaf, entry, score_text)


def _date_target(leaf: dict[str, Any], actual: str, line: int, b: Builder) -> None:
    """A deadline target is scored as days late against a ceiling of 0 days."""
    target_text = leaf["target"] or ""
    due = date_of(target_text, b.year) if target_text else None
    if due is None:
        return
    done = date_of(actual, b.year) if actual else None
    leaf["rule"] = {"kind": "reverse", "reverse_formula": "ratio"}
    leaf["target"] = {"op": "<=", "value": "0", "unit": "天", "text": target_text}
    if done is None:
        if actual and actual != "/":
            leaf["rule"] = {"kind": "tier"}
            leaf["target"] = target_text
        return
    late = max((done - due).days, 0)
    leaf["date_actual"] = f"{late}天"
    b.problem(
        line,
        f"“{leaf['name']}”按日期比较：完成于 {done.isoformat()}，期限 {due.isoformat()}，"
        + ("按期完成" if late == 0 else f"逾期 {late} 天"),
    )


def target_of(leaf: Mapping[str, Any]) -> Target:
    target = leaf.get("target")
    if isinstance(target, dict):
        return Target(target["op"], Decimal(target["value"]), target["unit"], target["text"])
    return parse_target(str(target or ""))
