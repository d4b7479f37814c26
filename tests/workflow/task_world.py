"""A small world for the task tests: organisations, users, a cycle and the seed form.

Built directly with the models (no web code), shared by tests/workflow and tests/integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from workflow.core.extensions import db
from workflow.models import Cycle, Evaluation, IndicatorScore, Org, Project, User
from workflow.targets import imports as targets_imports

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "scoring" / "samples" / "jiangsu_2022_seed.tsv"


@dataclass
class SeedRow:
    name: str
    target: str
    weight: str
    actual: str
    score: str


def seed_lines() -> list[list[str]]:
    return [line.split("\t") for line in SEED.read_text(encoding="utf-8").splitlines()]


def seed_rows(names: list[str]) -> dict[str, SeedRow]:
    """The seed's values for each 三级 name (rows may be shifted a column to the left)."""
    found: dict[str, SeedRow] = {}
    for cells in seed_lines():
        for name in names:
            if name in found or name not in cells:
                continue
            i = cells.index(name)
            rest = [*cells[i + 1 :], "", "", "", "", ""]
            found[name] = SeedRow(name, rest[0], rest[1], rest[3], rest[4])
    return found


def seed_cell(label: str) -> str:
    for cells in seed_lines():
        if cells and cells[0] == label:
            return cells[1] if len(cells) > 1 and cells[1] else cells[2]
    raise KeyError(label)


def scheme_dict() -> dict[str, Any]:
    try:
        from scoring.schemes import builtin_scheme

        return builtin_scheme("jiangsu-2022").to_dict()
    except (ImportError, OSError, KeyError):
        return seed_scheme_dict()


def _number(text: str) -> bool:
    try:
        Decimal(text)
    except Exception:
        return False
    return True


def seed_scheme_dict() -> dict[str, Any]:
    """A scheme snapshot read from the seed itself (until scoring ships its built-in one)."""
    tree: list[dict[str, Any]] = []
    inside = False
    code = 0
    for cells in seed_lines():
        cells = [*cells, "", "", "", "", "", "", "", ""]
        if cells[0] == "一级指标":
            inside = True
            continue
        if not inside or not any(c.strip() for c in cells):
            continue
        if cells[0] == "总计":
            break
        if _number(cells[4]):  # 一级 | 二级 | 三级 | target | weight | rule | actual | score
            top, sub, name, target, weight, rule = (
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                cells[5],
            )
        elif _number(cells[3]):  # shifted one column to the left: 二级 | 三级 | ...
            top, sub, name, target, weight, rule = (
                "",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
            )
        else:  # a blank group such as 生态效益
            top, sub, name, target, weight, rule = cells[0], cells[1], "", "", "", ""
        if top:
            tree.append({"name": top, "weight": None, "children": []})
        if sub:
            tree[-1]["children"].append({"name": sub, "weight": None, "indicators": []})
        if name:
            code += 1
            tree[-1]["children"][-1]["indicators"].append(
                {
                    "code": f"i{code:02d}",
                    "name": name,
                    "weight": weight,
                    "target": target,
                    "rule": {"kind": "tier"},
                    "rule_text": rule.strip("“”"),
                }
            )
    return {
        "name": "jiangsu-2022-seed",
        "version": "test",
        "title": "省级项目支出绩效自我评价表",
        "total": "100",
        "na_policy": "exclude",
        "tree": tree,
    }


@dataclass
class World:
    finance: Org
    dept: Org
    unit: Org
    other_unit: Org
    staff: User
    head: User
    reviewer: User
    other_reviewer: User
    finance_user: User
    admin: User
    cycle: Cycle
    evaluation: Evaluation


def _user(username: str, name: str, role: str, org: Org, email: str | None = "") -> User:
    user = User(
        username=username,
        name=name,
        role=role,
        org_id=org.id,
        email=f"{username}@example.test" if email == "" else email,
        password_hash="x",
    )
    db.session.add(user)
    return user


def build_world(
    state: str = "self_scored",
    deadlines: tuple[date, date, date] = (date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 29)),
    day_kind: str = "calendar",
    ladder: list[int] | None = None,
) -> World:
    finance = Org(name="江苏省财政厅", kind="finance")
    dept = Org(name="江苏省政务服务管理办公室", kind="department")
    other_dept = Org(name="江苏省数据局", kind="department")
    db.session.add_all([finance, dept, other_dept])
    db.session.flush()
    unit = Org(name="江苏省政务服务管理办公室（机关）", kind="unit", parent_id=dept.id)
    other_unit = Org(name="江苏省大数据管理中心", kind="unit", parent_id=other_dept.id)
    db.session.add_all([unit, other_unit])
    db.session.flush()
    staff = _user("unit_a", "张晓", "unit_staff", unit)
    head = _user("unit_a_head", "王建国", "unit_head", unit)
    _user("unit_c", "刘洋", "unit_staff", other_unit)
    reviewer = _user("reviewer", "陈静", "reviewer", dept)
    other_reviewer = _user("reviewer_2", "赵磊", "reviewer", other_dept)
    finance_user = _user("finance", "孙丽", "finance", finance)
    admin = _user("sysadmin", "系统管理员", "sysadmin", finance)
    scheme = scheme_dict()
    cycle = Cycle(
        year=2022,
        name="2022年度省级项目支出绩效自评",
        scheme_key="jiangsu-2022",
        scheme_version=str(scheme.get("version", "1")),
        scheme=scheme,
        deadline_submit=deadlines[0],
        deadline_review=deadlines[1],
        deadline_confirm=deadlines[2],
        reminder_days=ladder or [7, 3, 1],
        day_kind=day_kind,
        # The cycle's framework, as `flask demo` and the admin pages give it.
        framework=targets_imports.framework_record_of_scheme(scheme),
    )
    project = Project(
        unit_id=unit.id,
        name="政务服务信息系统建设维护和迭代升级",
        summary=seed_cell("项目概况"),
    )
    db.session.add_all([cycle, project])
    db.session.flush()
    evaluation = Evaluation(
        project_id=project.id,
        cycle_id=cycle.id,
        unit_id=unit.id,
        department_id=dept.id,
        state=state,
        version=2,
        scheme=scheme,
        entries={},
        main_results=seed_cell("主要成效"),
        problems=seed_cell("存在问题"),
        measures=seed_cell("整改措施"),
        filled_by="张晓",
        phone="025-12345678",
        unit_head="王建国",
        submitted_at=datetime(2026, 3, 20, 2, 30, tzinfo=UTC),
        submitted_by_id=staff.id,
    )
    db.session.add(evaluation)
    db.session.flush()
    fill_seed_scores(evaluation, scheme)
    db.session.commit()
    return World(
        finance,
        dept,
        unit,
        other_unit,
        staff,
        head,
        reviewer,
        other_reviewer,
        finance_user,
        admin,
        cycle,
        evaluation,
    )


def fill_seed_scores(evaluation: Evaluation, scheme: dict[str, Any]) -> None:
    indicators = [
        (ind["code"], ind["name"], ind["weight"])
        for top in scheme["tree"]
        for sub in top["children"]
        for ind in sub["indicators"]
    ]
    rows = seed_rows([name for _, name, _ in indicators])
    entries: dict[str, Any] = {}
    total = Decimal(0)
    for position, (code, name, weight) in enumerate(indicators):
        seed = rows.get(name)
        score = Decimal(seed.score) if seed and seed.score else None
        entries[code] = {"actual": seed.actual if seed else ""}
        db.session.add(
            IndicatorScore(
                evaluation_id=evaluation.id,
                code=code,
                position=position,
                weight=Decimal(weight),
                applicable=True,
                self_score=score,
            )
        )
        total += score or 0
    evaluation.entries = entries
    evaluation.self_total = total
    evaluation.self_grade = "优" if total >= 90 else "良"
