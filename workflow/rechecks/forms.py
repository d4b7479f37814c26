"""The re-check pages' forms, parsed from request.form into typed values plus messages;
what was typed is kept so that a page with errors shows it again (CSRF: the app's
CSRFProtect covers every POST)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from scoring.numbers import InputError, parse_decimal
from workflow.core.inputs import FORBIDDEN_MESSAGE, has_forbidden_chars, parse_int
from workflow.evaluations.operations import ScoreChange
from workflow.rechecks.sampling import METHODS


@dataclass
class BatchForm:
    name: str = ""
    cycle_id: str = ""
    method: str = "risk"
    size_kind: str = "rate"  # rate | count
    rate: str = "5"
    count: str = ""
    seed: str = ""
    errors: list[str] = field(default_factory=list)
    # Parsed values (valid only when errors is empty).
    cycle: int = 0
    rate_value: Decimal | None = None
    count_value: int | None = None
    seed_value: int = 0

    @classmethod
    def empty(cls) -> BatchForm:
        return cls(seed=str(secrets.randbelow(10**9)))

    @classmethod
    def parse(cls, data: Mapping[str, str]) -> BatchForm:
        form = cls(
            name=(data.get("name") or "").strip(),
            cycle_id=data.get("cycle_id") or "",
            method=data.get("method") or "",
            size_kind=data.get("size_kind") or "rate",
            rate=(data.get("rate") or "").strip(),
            count=(data.get("count") or "").strip(),
            seed=(data.get("seed") or "").strip(),
        )
        if any(has_forbidden_chars(v) for v in (form.name, form.rate, form.count, form.seed)):
            form.errors.append(FORBIDDEN_MESSAGE)
        if len(form.name) > 200:
            form.errors.append("批次名称不能超过 200 个字")
        form.cycle = parse_int(form.cycle_id) or 0
        if not form.cycle:
            form.errors.append("请选择评价任务")
        if form.method not in METHODS:
            form.errors.append("请选择抽样方法")
        if form.size_kind == "count":
            form.count_value = parse_int(form.count, maximum=100000)
            if not form.count_value:
                form.errors.append("抽样数量须为正整数")
        else:
            try:
                value = parse_decimal(form.rate, allow_percent=True)
            except InputError:
                form.errors.append(f"抽样比例“{form.rate}”不是数字")
            else:
                if not 0 < value <= 100:
                    form.errors.append("抽样比例须大于 0% 且不超过 100%")
                else:
                    form.rate_value = (value / 100).quantize(Decimal("0.0001"))
        seed = parse_int(form.seed, maximum=2**62)
        if seed is None:
            form.errors.append("随机种子须为非负整数")
        else:
            form.seed_value = seed
        return form


@dataclass
class ScoresForm:
    """复核 scores as typed, by indicator code: "score-<code>", "reason-<code>"."""

    typed: dict[str, tuple[str, str]] = field(default_factory=dict)
    changes: dict[str, ScoreChange] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    version: int | None = None

    @classmethod
    def parse(cls, data: Mapping[str, str], codes: list[str]) -> ScoresForm:
        form = cls(version=parse_int(data.get("version", "")))
        for code in codes:
            raw = (data.get(f"score-{code}") or "").strip()
            reason = (data.get(f"reason-{code}") or "").strip()
            form.typed[code] = (raw, reason)
            if has_forbidden_chars(raw) or has_forbidden_chars(reason):
                form.errors.append(FORBIDDEN_MESSAGE)
                continue
            if not raw:
                form.changes[code] = ScoreChange(None, reason)
                continue
            try:
                form.changes[code] = ScoreChange(parse_decimal(raw), reason)
            except InputError:
                form.errors.append(f"指标 {code}：复核得分“{raw}”不是数字")
        return form
