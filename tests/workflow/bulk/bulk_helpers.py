"""A world for bulk imports: a cycle on the central framework (the shared forms' family),
units named as the forms name them, and generated forms of that family."""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import date
from pathlib import Path

from sqlalchemy import select

import scoring
from tests.scoring.importers.importer_files import FORMS, rows_of, write_docx, write_xlsx
from workflow.admin import operations as admin_ops
from workflow.core.extensions import db
from workflow.models import Cycle, Org, OrgKind

CENTRAL_CYCLE = "中央模板 2022 批量导入"
# Demo units (README's table) that generated forms name as their 实施单位.
KNOWN_UNITS = ("江苏省政务服务中心", "江苏省大数据管理中心")
UNKNOWN_UNIT = "某某县不存在的事业单位"
SHARED_UNITS = ("上海市普陀区体育事业管理中心", "丽江市古城区自然资源局")


def central_cycle() -> int:
    """A cycle on the central framework, and units named as two shared forms name theirs."""
    cycle = db.session.scalar(select(Cycle).where(Cycle.name == CENTRAL_CYCLE))
    if cycle is None:
        cycle = admin_ops.create_cycle(
            year=2022,
            name=CENTRAL_CYCLE,
            scheme_key="central",
            scheme=scoring.builtin_scheme("central"),
            deadline_submit=date(2030, 1, 1),
            deadline_review=date(2030, 2, 1),
            deadline_confirm=date(2030, 3, 1),
            reminder_days=[3],
            day_kind="calendar",
        )
    department = db.session.scalar(select(Org).where(Org.kind == OrgKind.DEPARTMENT.value))
    assert department is not None
    for name in SHARED_UNITS:
        if db.session.scalar(select(Org).where(Org.name == name)) is None:
            db.session.add(Org(name=name, kind=OrgKind.UNIT.value, parent_id=department.id))
    db.session.commit()
    return int(cycle.id)


def generated_form(unit: str, project: str, trained: int = 80) -> str:
    """A complete central-family form (budget 9 + 产出 + 40 + 30 + 10) for this unit."""
    score = "50" if trained >= 100 else str(trained // 2)
    return f"""项目支出绩效自评表
（2022年度）
项目名称\t{project}
主管部门\t某局\t实施单位\t{unit}
项目资金（万元）\t\t年初预算数\t全年预算数\t全年执行数\t分值\t执行率\t得分
\t年度资金总额\t100\t100\t90\t10\t90%\t9
年度总体目标\t预期目标\t实际完成情况
\t完成任务\t已完成
绩效指标\t一级指标\t二级指标\t三级指标\t年度指标值\t实际完成值\t分值\t得分\t偏差原因分析及改进措施
\t产出指标\t数量指标\t培训人次\t≥100人次\t{trained}人次\t50\t{score}\t报名不足
\t效益指标\t社会效益指标\t受益人数\t≥50人\t50人\t30\t30\t
\t满意度指标\t服务对象满意度指标\t满意度\t≥90%\t95%\t10\t10\t
总分\t\t\t\t\t\t100\t\t
"""


def shared_folder(tmp: Path) -> Path:
    """A folder with the five shared forms and generated ones as .xlsx and .docx."""
    folder = tmp / "forms"
    folder.mkdir()
    for path in sorted(FORMS.glob("*.txt")):
        shutil.copy(path, folder / path.name)
    write_xlsx(rows_of(generated_form(KNOWN_UNITS[0], "政务服务培训")), folder / "培训.xlsx")
    write_docx(
        rows_of(generated_form(KNOWN_UNITS[1], "数据共享平台运维", 120)), folder / "运维.docx"
    )
    write_xlsx(rows_of(generated_form(UNKNOWN_UNIT, "无主项目")), folder / "无主.xlsx")
    return folder


class _GbkName(zipfile.ZipInfo):
    """A member named in GBK without the UTF-8 flag, as Chinese Windows' 压缩 writes it."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's hook
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def zip_of(tmp: Path, members: dict[str, bytes], name: str = "forms.zip") -> Path:
    """A ZIP as Chinese Windows writes it: member names in GBK, without the UTF-8 flag."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(_GbkName(member), data)
    path = tmp / name
    path.write_bytes(buffer.getvalue())
    return path
