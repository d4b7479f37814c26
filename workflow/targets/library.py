"""The indicator library (指标库): common indicators units pick their targets from, the seed
entries, and the .xlsx import and export of the library (written with openpyxl, read back by
the form reader).

The seed entries are written for this product from the common practice of 项目支出绩效目标
(财预〔2021〕101号's split into output and outcome indicators): what they measure and how.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from scoring.frameworks import NATURE_SYMBOLS, NATURES
from scoring.importers import FormReadError, percent_number, read_workbook
from workflow.core.database import begin_write
from workflow.core.extensions import db
from workflow.models import LibraryIndicator

# level1, level2, name, nature, unit, default value, how it is measured
SEED: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("产出", "数量指标", "培训人次", ">=", "人次", "500", "年度内参加培训并签到的人次合计"),
    ("产出", "数量指标", "培训班次", ">=", "期", "10", "年度内实际举办的培训班期数"),
    ("产出", "数量指标", "设备购置数量", ">=", "台（套）", "50", "验收入库的设备台（套）数"),
    ("产出", "数量指标", "道路养护里程", ">=", "公里", "120", "年度内完成日常养护的道路里程"),
    ("产出", "数量指标", "系统接入部门数", ">=", "个", "20", "完成对接并上线运行的部门数量"),
    ("产出", "数量指标", "服务事项办件量", ">=", "件", "10000", "平台年度受理办件数量"),
    ("产出", "数量指标", "补助对象覆盖数", ">=", "个", "100", "获得补助资金的对象数量"),
    ("产出", "数量指标", "知识库条目数", ">=", "条", "3000", "审核入库的知识条目数量"),
    (
        "产出",
        "质量指标",
        "项目验收合格率",
        ">=",
        "%",
        "100",
        "验收合格的子项目数 ÷ 子项目总数 × 100%",
    ),
    ("产出", "质量指标", "设备完好率", ">=", "%", "98", "完好设备台数 ÷ 设备总台数 × 100%"),
    (
        "产出",
        "质量指标",
        "系统可用率",
        ">=",
        "%",
        "99.9",
        "（全年时长 − 故障停机时长）÷ 全年时长 × 100%",
    ),
    ("产出", "质量指标", "培训考核合格率", ">=", "%", "95", "考核合格人数 ÷ 参训人数 × 100%"),
    ("产出", "质量指标", "道路优良路率", ">=", "%", "85", "技术状况评定为优、良的里程占比"),
    ("产出", "质量指标", "数据准确率", ">=", "%", "99", "抽检准确的数据条数 ÷ 抽检条数 × 100%"),
    ("产出", "质量指标", "安全测评通过", "定性", "", "通过", "等级保护或密码应用测评结论"),
    (
        "产出",
        "质量指标",
        "重大安全事故发生次数",
        "<=",
        "次",
        "0",
        "年度内发生的重大安全责任事故次数",
    ),
    (
        "产出",
        "时效指标",
        "资金拨付及时率",
        ">=",
        "%",
        "100",
        "按规定时限拨付的资金 ÷ 应拨付资金 × 100%",
    ),
    ("产出", "时效指标", "项目完成时间", "date", "", "2022-12-31", "项目通过验收的日期"),
    ("产出", "时效指标", "故障响应时间", "<=", "小时", "2", "从报修到响应的平均时长"),
    ("产出", "时效指标", "采购完成时间", "date", "", "2022-09-30", "采购合同签订的日期"),
    ("产出", "时效指标", "按时办结率", ">=", "%", "99", "在承诺时限内办结的件数 ÷ 办件总数 × 100%"),
    ("产出", "成本指标", "人均培训成本", "<=", "元/人次", "800", "培训支出 ÷ 培训人次"),
    ("产出", "成本指标", "单位养护成本", "<=", "万元/公里", "1.2", "养护支出 ÷ 养护里程"),
    ("产出", "成本指标", "设备采购成本控制", "<=", "万元", "300", "设备采购合同金额合计"),
    ("产出", "成本指标", "运维成本控制", "<=", "万元", "200", "年度运维支出合计"),
    (
        "效益",
        "经济效益",
        "节约财政资金",
        ">=",
        "万元",
        "50",
        "集约建设、统一采购较分散实施节约的资金",
    ),
    (
        "效益",
        "经济效益",
        "降低企业办事成本",
        "定性",
        "",
        "明显降低",
        "抽样调查企业办事往返次数与费用",
    ),
    (
        "效益",
        "社会效益",
        "群众办事便利度提升",
        "定性",
        "",
        "明显提升",
        "网办率、跑动次数等指标的同比变化",
    ),
    ("效益", "社会效益", "一网通办率", ">=", "%", "90", "全程网办事项数 ÷ 政务服务事项总数 × 100%"),
    ("效益", "社会效益", "道路通行条件改善", "定性", "", "明显改善", "路况检测与群众反映"),
    ("效益", "社会效益", "业务能力提升", "定性", "", "明显提升", "培训后考核与用人单位评价"),
    ("效益", "生态效益", "节能降耗", "定性", "", "有所改善", "设备能耗同比变化"),
    (
        "效益",
        "可持续影响",
        "长效管理机制建立",
        "定性",
        "",
        "建立",
        "管理制度、运维机制的制定与执行情况",
    ),
    ("效益", "可持续影响", "设备使用年限", ">=", "年", "5", "设备设计或预计使用年限"),
    (
        "满意度",
        "服务对象满意度",
        "服务对象满意度",
        ">=",
        "%",
        "90",
        "满意度调查中满意及基本满意的比例",
    ),
    ("满意度", "服务对象满意度", "参训人员满意度", ">=", "%", "90", "培训结束时的问卷调查"),
    ("满意度", "服务对象满意度", "群众满意度", ">=", "%", "90", "12345 回访或第三方调查"),
    ("满意度", "服务对象满意度", "使用部门满意度", ">=", "%", "95", "向使用部门发放问卷"),
)

SHEET_NAME = "指标库"
# An import is read this far down and no further; a longer sheet is refused, never cut.
MAX_ROWS = 20000
COLUMNS = (
    "一级指标",
    "二级指标",
    "三级指标",
    "指标性质",
    "度量单位",
    "参考指标值",
    "计算方法",
    "状态",
)
_NATURE_BY_LABEL = {label: nature for nature, label in NATURE_SYMBOLS.items()}
_NATURE_BY_LABEL.update({nature: nature for nature in NATURES})


class LibraryError(Exception):
    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)


def seed_library() -> int:
    """Add the seed entries the library lacks (no commit); return how many were added."""
    have = {(i.level1, i.level2, i.name) for i in db.session.scalars(select(LibraryIndicator))}
    added = 0
    for level1, level2, name, nature, unit, value, method in SEED:
        if (level1, level2, name) in have:
            continue
        db.session.add(
            LibraryIndicator(
                level1=level1,
                level2=level2,
                name=name,
                nature=nature,
                unit=unit,
                default_value=value,
                method=method,
                active=True,
            )
        )
        added += 1
    return added


@dataclass
class LibraryInput:
    level1: str
    level2: str
    name: str
    nature: str
    unit: str = ""
    default_value: str = ""
    method: str = ""
    active: bool = True


def check_input(data: LibraryInput) -> list[str]:
    problems: list[str] = []
    if not data.level1.strip() or not data.level2.strip():
        problems.append("须填写一级指标和二级指标")
    if not data.name.strip():
        problems.append("须填写三级指标名称")
    if data.nature not in NATURES:
        problems.append(f"指标性质“{data.nature}”无效，可选：≥、≤、=、定性、日期")
    elif data.nature in (">=", "<=", "=") and not data.unit.strip():
        problems.append("定量指标须填写度量单位")
    return problems


def save_indicator(indicator_id: int | None, data: LibraryInput) -> LibraryIndicator:
    begin_write()
    problems = check_input(data)
    if problems:
        raise LibraryError("指标有误", problems)
    clash = db.session.scalar(
        select(LibraryIndicator).where(
            LibraryIndicator.level1 == data.level1.strip(),
            LibraryIndicator.level2 == data.level2.strip(),
            LibraryIndicator.name == data.name.strip(),
        )
    )
    if clash is not None and clash.id != indicator_id:
        raise LibraryError(f"指标库中已有“{data.name.strip()}”")
    if indicator_id is None:
        indicator = LibraryIndicator()
        db.session.add(indicator)
    else:
        found = db.session.get(LibraryIndicator, indicator_id)
        if found is None:
            raise LibraryError("未找到该指标")
        indicator = found
    indicator.level1 = data.level1.strip()
    indicator.level2 = data.level2.strip()
    indicator.name = data.name.strip()
    indicator.nature = data.nature
    indicator.unit = data.unit.strip()
    indicator.default_value = data.default_value.strip()
    indicator.method = data.method.strip()
    indicator.active = data.active
    db.session.commit()
    return indicator


def set_active(indicator_id: int, active: bool) -> LibraryIndicator:
    begin_write()
    indicator = db.session.get(LibraryIndicator, indicator_id)
    if indicator is None:
        raise LibraryError("未找到该指标")
    indicator.active = active
    db.session.commit()
    return indicator


def export_xlsx(indicators: Iterable[LibraryIndicator]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_NAME
    sheet.append(COLUMNS)
    for item in indicators:
        sheet.append(
            [
                item.level1,
                item.level2,
                item.name,
                NATURE_SYMBOLS.get(item.nature, item.nature),
                item.unit,
                item.default_value,
                item.method,
                "启用" if item.active else "停用",
            ]
        )
    for column, width in zip("ABCDEFGH", (10, 16, 28, 10, 12, 14, 48, 8), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_xlsx(data: bytes, max_bytes: int | None = None) -> tuple[int, int]:
    """Add or update library entries from a sheet laid out as the export; all or nothing.
    Returns (added, updated). The file is read by the form reader
    (`scoring.importers.read_workbook`): the sheet 指标库, or else the first one Excel shows,
    numbers as typed."""
    begin_write()
    rows = _library_rows(data, max_bytes)
    if not rows or tuple(c.strip() for c in [*rows[0], *[""] * 7][:7]) != COLUMNS[:7]:
        raise LibraryError("表头应为：" + "、".join(COLUMNS))
    problems: list[str] = []
    inputs: list[LibraryInput] = []
    for number, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in [*row, *[""] * 8][:8]]
        if not any(cells):
            continue
        nature = _NATURE_BY_LABEL.get(cells[3], cells[3])
        value = cells[5]
        if nature in (">=", "<=", "=") and cells[4] in ("%", "％"):
            # Excel turns a typed 95% into a percent cell; the unit already says %.
            value = percent_number(value) or value
        item = LibraryInput(
            cells[0], cells[1], cells[2], nature, cells[4], value, cells[6], cells[7] != "停用"
        )
        problems.extend(f"第{number}行：{p}" for p in check_input(item))
        inputs.append(item)
    if problems:
        raise LibraryError("导入的指标有误，未做任何修改", problems)
    existing = {
        (i.level1, i.level2, i.name): i for i in db.session.scalars(select(LibraryIndicator))
    }
    added = updated = 0
    for item in inputs:
        found = existing.get((item.level1, item.level2, item.name))
        if found is None:
            found = LibraryIndicator(level1=item.level1, level2=item.level2, name=item.name)
            db.session.add(found)
            existing[(item.level1, item.level2, item.name)] = found
            added += 1
        else:
            updated += 1
        found.nature = item.nature
        found.unit = item.unit
        found.default_value = item.default_value
        found.method = item.method
        found.active = item.active
    db.session.commit()
    return added, updated


def _library_rows(data: bytes, max_bytes: int | None) -> list[list[str]]:
    """The rows of the library sheet of an uploaded .xlsx, as text."""
    if max_bytes is not None and len(data) > max_bytes:
        raise LibraryError(f"文件超过 {max_bytes // (1024 * 1024)} MB")
    if not data.startswith(b"PK\x03\x04"):
        raise LibraryError("文件不是 .xlsx 工作簿：请在 Excel 或 WPS 中另存为 .xlsx 后再导入")
    try:
        sheets = read_workbook(data, exact=True, max_rows=MAX_ROWS, max_columns=len(COLUMNS))
    except FormReadError as exc:
        raise LibraryError(f"无法读取 Excel 文件：{exc.message}") from exc
    named = [sheet for sheet in sheets if sheet.name == SHEET_NAME]
    shown = [sheet for sheet in sheets if sheet.state == "visible"]
    chosen = (named or shown or sheets or [None])[0]
    if chosen is None:
        raise LibraryError("文件中没有工作表")
    if chosen.more:
        raise LibraryError(
            f"工作表“{chosen.name}”超过 {MAX_ROWS} 行：请删去第 {MAX_ROWS} 行以下的行，"
            "或分成几个文件导入"
        )
    return chosen.rows
