"""Administration forms. Every message is Chinese; typed values survive an error."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    SelectChoice = None

from workflow.core.inputs import parse_int
from workflow.models.org import ORG_KIND_LABELS, OrgKind


def _halfwidth(text: str) -> str:
    """Full-width digits and punctuation (２０２４－０４－１４) to ASCII."""
    return unicodedata.normalize("NFKC", text).strip()


class ChineseDateField(StringField):
    """A date (YYYY-MM-DD, also 2024/4/14 or full-width digits) with a Chinese error."""

    data: date | None  # type: ignore[assignment]

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_data = valuelist
        text = _halfwidth(str(valuelist[0])) if valuelist else ""
        self.data = None
        if not text:
            return
        for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"):
            try:
                self.data = datetime.strptime(text, fmt).date()
                return
            except ValueError:
                continue
        raise ValueError("日期格式应为 YYYY-MM-DD，例如 2024-04-15")

    def _value(self) -> str:
        if getattr(self, "raw_data", None):
            return str(self.raw_data[0])
        return self.data.isoformat() if self.data else ""


class ChineseIntegerField(StringField):
    data: int | None  # type: ignore[assignment]

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_data = valuelist
        text = _halfwidth(str(valuelist[0])).replace(",", "") if valuelist else ""
        self.data = None
        if not text:
            return
        value = parse_int(text)
        if value is None:
            raise ValueError("请填写整数")
        self.data = value

    def _value(self) -> str:
        if getattr(self, "raw_data", None):
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)


def option(value: Any, label: str) -> Any:
    """One <option>: SelectChoice where WTForms has it (plain tuples are deprecated in 3.3)."""
    if SelectChoice is not None:
        return SelectChoice(value, label)
    return (value, label)


def options(pairs: Iterable[tuple[Any, str]]) -> list[Any]:
    return [option(v, label) for v, label in pairs]


class ChoiceField(SelectField):
    """A select whose invalid choice is reported in Chinese."""

    def pre_validate(self, form: Any) -> None:
        allowed = {tuple(c)[0] for c in (self.choices or [])}  # type: ignore[union-attr]
        if self.data not in allowed:
            raise ValidationError("请从列表中选择")


class OrgForm(FlaskForm):
    name = StringField(
        "机构名称",
        validators=[
            DataRequired("请填写机构名称"),
            Length(max=200, message="机构名称不能超过 200 个字符"),
        ],
    )
    kind = ChoiceField(
        "类型",
        choices=options(
            (k.value, ORG_KIND_LABELS[k])
            for k in (OrgKind.DEPARTMENT, OrgKind.UNIT, OrgKind.FINANCE)
        ),
        default=OrgKind.UNIT.value,
    )
    parent_id = ChoiceField("上级主管部门（预算单位必填）", coerce=int, default=0)
    code = StringField(
        "机构代码", validators=[Optional(), Length(max=50, message="机构代码不能超过 50 个字符")]
    )


class ConfirmForm(FlaskForm):
    """A bare POST (disable, enable): only the CSRF token."""


class CycleForm(FlaskForm):
    year = ChineseIntegerField("年度", validators=[InputRequired("请填写年度")])
    name = StringField(
        "任务名称",
        validators=[
            DataRequired("请填写任务名称"),
            Length(max=200, message="任务名称不能超过 200 个字符"),
        ],
    )
    scheme_key = ChoiceField("指标体系")
    deadline_submit = ChineseDateField(
        "单位填报截止", validators=[InputRequired("请填写填报截止日期")]
    )
    deadline_review = ChineseDateField(
        "主管部门审核截止", validators=[InputRequired("请填写审核截止日期")]
    )
    deadline_confirm = ChineseDateField(
        "财政确认截止", validators=[InputRequired("请填写确认截止日期")]
    )
    reminder_days = StringField(
        "提醒（截止前天数，逗号分隔）",
        default="7, 3, 1",
        validators=[DataRequired("请填写提醒天数")],
    )
    day_kind = ChoiceField(
        "天数计算方式",
        choices=options([("calendar", "自然日"), ("working", "工作日（含调休）")]),
        default="calendar",
    )
    active = BooleanField("启用", default=True)


class SchemeUploadForm(FlaskForm):
    file = FileField(
        "指标体系文件（JSON 或 YAML）",
        validators=[
            FileRequired("请选择文件"),
            FileAllowed(["json", "yaml", "yml"], "只能上传 .json、.yaml 或 .yml 文件"),
        ],
    )


class ImportForm(FlaskForm):
    file = FileField("自评表文件", validators=[FileRequired("请选择文件")])
    cycle_id = ChoiceField("评价任务", coerce=int)
    unit_id = ChoiceField("预算单位", coerce=int)
