"""The administrator's flask commands: `demo` (demo organisations, users and evaluations)
and the `users` group."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

import scoring
from scoring.frameworks import TargetRow, builtin_framework
from workflow.core.cli import fail
from workflow.core.extensions import db
from workflow.evaluations import operations
from workflow.machine import ROLE_LABELS, Role, TargetEvent
from workflow.models import (
    Cycle,
    Evaluation,
    Org,
    OrgKind,
    Project,
    TargetSet,
    User,
    compiled_scheme,
    framework_record_for,
)
from workflow.targets import library
from workflow.targets import operations as targets_ops


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_command)


# --- demo data -------------------------------------------------------------------------------

DEMO_USERS = (
    # username, name, role, org key
    ("unit_a", "张晓", Role.UNIT_STAFF, "unit_a"),
    ("unit_a_head", "王建国", Role.UNIT_HEAD, "unit_a"),
    ("unit_b", "李敏", Role.UNIT_STAFF, "unit_b"),
    ("reviewer", "陈静", Role.REVIEWER, "dept_1"),
    ("unit_c", "刘洋", Role.UNIT_STAFF, "unit_c"),
    ("reviewer_2", "赵磊", Role.REVIEWER, "dept_2"),
    ("finance", "孙丽", Role.FINANCE, "finance"),
    # 三员分立: three administrators instead of one "admin".
    ("sysadmin", "周系统", Role.SYSADMIN, "finance"),
    ("secadmin", "吴安全", Role.SECADMIN, "finance"),
    ("auditor", "郑审计", Role.AUDITOR, "finance"),
    ("expert", "钱复核", Role.EXPERT, "finance"),  # 复核专家 (抽查复核)
)
DEMO_ORGS = {
    "finance": ("江苏省财政厅", OrgKind.FINANCE, None),
    "dept_1": ("江苏省政务服务管理办公室", OrgKind.DEPARTMENT, None),
    "dept_2": ("江苏省数据局", OrgKind.DEPARTMENT, None),
    "unit_a": ("江苏省政务服务管理办公室（机关）", OrgKind.UNIT, "dept_1"),
    "unit_b": ("江苏省政务服务中心", OrgKind.UNIT, "dept_1"),
    "unit_c": ("江苏省大数据管理中心", OrgKind.UNIT, "dept_2"),
}
# The budget system's unit codes: finance's imports of approved targets match on them.
DEMO_ORG_CODES = {"unit_a": "320002", "unit_b": "320001", "unit_c": "320003"}


def seed_entries(
    cycle_scheme: scoring.Scheme,
) -> tuple[dict[str, dict[str, object]], scoring.ImportResult]:
    """The seed form's entries, keyed by the cycle scheme's indicator codes (matched by path)."""
    from importlib.resources import files

    text = files("scoring").joinpath("samples/jiangsu_2022_seed.tsv").read_text(encoding="utf-8")
    result = scoring.import_form(text, layout="jiangsu")
    return map_entries(result, cycle_scheme), result


def map_entries(
    result: scoring.ImportResult, scheme: scoring.Scheme
) -> dict[str, dict[str, object]]:
    from workflow.admin import operations as admin_ops

    return admin_ops.map_entries(result, scheme)


def demo_deadlines(on: date) -> tuple[date, date, date]:
    """The demo cycle's deadlines, relative to the day the demo is loaded: a new user sees
    weeks left, not a form 1,300 days overdue."""
    return on + timedelta(weeks=3), on + timedelta(weeks=6), on + timedelta(weeks=9)


def _demo_cycle() -> Cycle:
    scheme = scoring.builtin_scheme("jiangsu-2022")
    cycle = db.session.scalar(select(Cycle).where(Cycle.name == "2022年度省级项目支出绩效自评"))
    if cycle is None:
        submit, review, confirm = demo_deadlines(date.today())
        cycle = Cycle(
            year=2022,
            name="2022年度省级项目支出绩效自评",
            scheme_key="jiangsu-2022",
            scheme_version=scheme.version,
            scheme=scheme.to_dict(),
            deadline_submit=submit,
            deadline_review=review,
            deadline_confirm=confirm,
            reminder_days=[7, 3, 1],
            day_kind="working",
        )
        db.session.add(cycle)
    # The two shipped frameworks are stored; the demo cycle uses the Jiangsu one.
    central, _ = builtin_framework("central")
    framework_record_for(central.to_dict())
    jiangsu, _ = builtin_framework("jiangsu-2022")
    cycle.framework = framework_record_for(jiangsu.to_dict())
    return cycle


@click.command("demo")
@with_appcontext
@click.option("--password", default=None, help="所有演示账号的密码；不填则随机生成并打印")
def demo_command(password: str | None) -> None:
    """载入演示数据：江苏 2022 年度任务、两个主管部门、种子表及各账号（生产环境拒绝）。"""
    from flask import current_app

    from workflow.auth import operations as auth_ops
    from workflow.auth import passwords

    if current_app.config.get("ENV_NAME") == "production":
        fail("生产环境不能载入演示数据（演示账号的密码与动态口令密钥会被打印出来）。")
        return
    if password is not None:
        found = passwords.problems(password, "")
        if found:
            fail("演示密码不符合密码策略：" + "；".join(found))
            return
    orgs: dict[str, Org] = {}
    for key, (name, kind, parent) in DEMO_ORGS.items():
        org = db.session.scalar(select(Org).where(Org.name == name))
        if org is None:
            org = Org(
                name=name,
                kind=kind.value,
                parent=orgs[parent] if parent else None,
                code=DEMO_ORG_CODES.get(key),
            )
            db.session.add(org)
        orgs[key] = org
    db.session.flush()
    printed: list[tuple[str, str, str, str]] = []
    users: dict[str, User] = {}
    for username, name, role, org_key in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        pw = password or passwords.generate()
        if user is None:
            user = User(
                username=username,
                name=name,
                role=role.value,
                org=orgs[org_key],
                email=f"{username}@example.gov.cn",
            )
            db.session.add(user)
        # The demo prints the passwords for the people trying it: not a forced change.
        user.set_password(pw)
        secret = auth_ops.enrol_directly(user)
        users[username] = user
        printed.append((username, ROLE_LABELS[role], pw, secret))
    cycle = _demo_cycle()
    db.session.flush()
    library.seed_library()
    if db.session.scalar(select(Evaluation).where(Evaluation.cycle_id == cycle.id)) is None:
        _demo_evaluations(cycle, orgs, users)
        from workflow.rechecks.cli import seed_demo

        seed_demo(cycle, users["finance"], users["expert"])
    db.session.commit()
    click.echo("演示数据已载入。账号（登录须输入密码和动态口令；密钥可手工加入任一 TOTP 认证器，")
    click.echo("开发环境下 `flask --app wsgi users totp 用户名` 打印当前口令）：")
    for username, label, pw, secret in printed:
        click.echo(
            f"  {username:<12} {label:<8} 密码：{pw if not password else '（已设为指定密码）'}"
            f"  动态口令密钥：{secret}"
        )


def _set_targets(
    targets_id: int,
    goal: str,
    rows: tuple[TargetRow, ...],
    unit_user: User,
    reviewer: User | None,
    *,
    events: tuple[str, ...] = ("submit", "approve"),
    reason: str = "",
) -> TargetSet:
    """Targets moved through the real workflow, with audit rows, as users would have."""
    targets, _ = targets_ops.save_targets(
        unit_user,
        targets_id,
        goal=goal,
        rows=[targets_ops.raw_row(row) for row in rows],
        reason=reason or None,
    )
    for event in events:
        actor = unit_user if event in ("submit", "adjust") else reviewer
        assert actor is not None
        targets = targets_ops.fire_targets(
            actor, targets_id, TargetEvent(event), reason=reason or None
        )
    return targets


def _demo_evaluations(cycle: Cycle, orgs: dict[str, Org], users: dict[str, User]) -> None:
    _, seed_targets = builtin_framework("jiangsu-2022")
    entries, result = seed_entries(scoring.scheme_from_dict(cycle.scheme))
    header = result.header
    seed_project = Project(
        unit=orgs["unit_a"],
        name=str(header.get("project") or "政务服务信息系统建设维护和迭代升级"),
        summary=str(header.get("summary") or ""),
        code="320000221000000001",
    )
    # More projects so that every queue and the dashboard have something to show; they go
    # through the real workflow (with audit rows), as users would have moved them.
    plans = (
        ("unit_a", "一体化政务服务平台安全运维", (), "优"),
        ("unit_b", "政务服务中心窗口服务提升", ("submit",), "良"),
        ("unit_b", "12345热线知识库建设", ("submit", "start_review"), "优"),
        ("unit_a", "“互联网+监管”系统运维", ("submit", "start_review", "approve"), "优"),
        ("unit_b", "政务服务事项标准化", ("submit", "start_review", "approve"), "良"),
        ("unit_c", "公共数据平台运维", ("submit", "start_review", "approve", "confirm"), "中"),
        ("unit_c", "数据共享交换平台升级", (), "优"),
    )
    actors = {"unit_a": users["unit_a"], "unit_b": users["unit_b"], "unit_c": users["unit_c"]}
    reviewers = {
        "unit_a": users["reviewer"],
        "unit_b": users["reviewer"],
        "unit_c": users["reviewer_2"],
    }
    projects: dict[str, Project] = {seed_project.name: seed_project}
    db.session.add(seed_project)
    for number, (unit_key, name, _, _) in enumerate(plans, start=2):
        projects[name] = Project(
            unit=orgs[unit_key],
            name=name,
            summary=f"{name}项目，年度目标按批复执行。",
            code=f"3200002210000000{number:02d}",
        )
    for number, (unit_key, name, _, _) in enumerate(PENDING_TARGETS, start=20):
        projects[name] = Project(
            unit=orgs[unit_key],
            name=name,
            summary=f"{name}项目。",
            code=f"3200002210000000{number:02d}",
        )
    db.session.add_all(projects.values())
    opened = {name: targets_ops.open_targets(project, cycle) for name, project in projects.items()}
    db.session.commit()
    ids = {name: targets.id for name, targets in opened.items()}
    # The seed project keeps the seed form's own indicators.
    _set_targets(
        ids[seed_project.name],
        str(header.get("summary") or seed_project.summary),
        seed_targets.rows,
        users["unit_a"],
        users["reviewer"],
    )
    for unit_key, name, _, _ in plans:
        goal, rows = _target_rows(name)
        _set_targets(ids[name], goal, rows, actors[unit_key], reviewers[unit_key])
    for unit_key, name, state, reason in PENDING_TARGETS:
        goal, rows = _target_rows(name)
        events = {"draft": (), "submitted": ("submit",), "returned": ("submit", "return")}[state]
        _set_targets(ids[name], goal, rows, actors[unit_key], None, events=())
        for event in events:
            actor = actors[unit_key] if event == "submit" else reviewers[unit_key]
            targets_ops.fire_targets(actor, ids[name], TargetEvent(event), reason=reason or None)
    # One adjustment (调整), approved in mid-year: the evaluation scores against it.
    name, indicator, _, adjusted, reason = ADJUSTED
    unit_key = next(plan[0] for plan in plans if plan[1] == name)
    goal, rows = _target_rows(name)
    changed = tuple(
        TargetRow.from_dict({**row.to_dict(), "value": adjusted}) if row.name == indicator else row
        for row in rows
    )
    _set_targets(
        ids[name],
        goal,
        changed,
        actors[unit_key],
        reviewers[unit_key],
        events=("adjust", "approve"),
        reason=reason,
    )
    adjusted_targets = db.session.get(TargetSet, ids[name])
    assert adjusted_targets is not None and adjusted_targets.current_version is not None
    adjusted_targets.current_version.approved_at = datetime(2022, 6, 30, 2, 0, tzinfo=UTC)

    seed = operations.create_evaluation(seed_project, cycle, entries)
    narratives = result.narratives
    seed.main_results = str(narratives.get("主要成效", ""))
    seed.problems = str(narratives.get("存在问题", ""))
    seed.measures = str(narratives.get("整改措施", ""))
    seed.filled_by = "张晓"
    seed.phone = "025-00000000"
    seed.unit_head = "王建国"
    seed.published = {
        "scores": result.published,
        "total": result.published_total,
        "grade": result.published_grade,
    }
    # The framework's own indicators (决策, 过程) are filled as in the seed form.
    assert cycle.framework is not None
    shared_codes = {
        str(indicator["code"])
        for level in cycle.framework.framework().levels
        if level.shared
        for node in level.tree
        for indicator in node.get("indicators", [])
    }
    shared = {code: entry for code, entry in entries.items() if code in shared_codes}
    created: list[tuple[Evaluation, str, tuple[str, ...]]] = []
    for unit_key, name, events, grade in plans:
        project = projects[name]
        version = targets_ops.version_in_force(project, cycle)
        assert version is not None and cycle.framework is not None
        scheme = scoring.scheme_from_dict(compiled_scheme(cycle.framework, version))
        ev = operations.create_evaluation(
            project, cycle, {**shared, **_project_entries(scheme, grade)}
        )
        ev.filled_by = actors[unit_key].name
        ev.phone = "025-00000000"
        ev.main_results = "项目按计划实施，取得预期成效。"
        ev.problems = "无。"
        ev.measures = "无。"
        created.append((ev, unit_key, events))
    db.session.commit()
    for ev, unit_key, events in created:
        for event in events:
            actor = {
                "submit": actors[unit_key],
                "start_review": reviewers[unit_key],
                "approve": reviewers[unit_key],
                "confirm": users["finance"],
            }[event]
            operations.fire(actor, ev.id, event)


# --- demo targets ------------------------------------------------------------------------------

# Each demo project's own 绩效目标 (level1, level2, 三级指标, nature, value, unit, weight): 产出
# 30, 效益 30, 满意度 10 as the Jiangsu framework asks. Written for the demo; realistic, not real.
Row = tuple[str, str, str, str, str, str, str]
DEMO_TARGETS: dict[str, tuple[str, tuple[Row, ...]]] = {
    "一体化政务服务平台安全运维": (
        "保障一体化政务服务平台全年安全稳定运行，完成等级保护测评，及时处置安全事件。",
        (
            ("产出", "数量指标", "安全巡检次数", ">=", "12", "次", "6"),
            ("产出", "质量指标", "系统可用率", ">=", "99.9", "%", "8"),
            ("产出", "质量指标", "等级保护测评", "定性", "通过", "", "6"),
            ("产出", "时效指标", "安全事件响应时间", "<=", "2", "小时", "5"),
            ("产出", "成本指标", "运维成本控制", "<=", "180", "万元", "5"),
            ("效益", "社会效益", "平台安全运行保障能力", "定性", "明显提升", "", "15"),
            ("效益", "可持续影响", "安全运维长效机制", "定性", "建立", "", "15"),
            ("满意度", "服务对象满意度", "使用部门满意度", ">=", "95", "%", "10"),
        ),
    ),
    "政务服务中心窗口服务提升": (
        "开展窗口人员业务培训，提升窗口服务规范化水平和群众办事体验。",
        (
            ("产出", "数量指标", "培训人次", ">=", "600", "人次", "8"),
            ("产出", "数量指标", "培训班次", ">=", "12", "期", "4"),
            ("产出", "质量指标", "培训考核合格率", ">=", "95", "%", "8"),
            ("产出", "时效指标", "培训完成时间", "date", "2022-11-30", "", "5"),
            ("产出", "成本指标", "人均培训成本", "<=", "800", "元/人次", "5"),
            ("效益", "社会效益", "窗口服务规范化水平", "定性", "明显提升", "", "15"),
            ("效益", "社会效益", "群众办事等候时间缩短", "定性", "明显缩短", "", "15"),
            ("满意度", "服务对象满意度", "参训人员满意度", ">=", "90", "%", "10"),
        ),
    ),
    "12345热线知识库建设": (
        "建成覆盖全省政务服务事项的12345热线知识库，提高一次性答复率。",
        (
            ("产出", "数量指标", "知识库条目数", ">=", "5000", "条", "10"),
            ("产出", "质量指标", "知识条目准确率", ">=", "99", "%", "8"),
            ("产出", "时效指标", "知识库上线时间", "date", "2022-08-31", "", "6"),
            ("产出", "成本指标", "建设成本控制", "<=", "150", "万元", "6"),
            ("效益", "社会效益", "热线一次性答复率提升", "定性", "明显提升", "", "15"),
            ("效益", "可持续影响", "知识库更新维护机制", "定性", "建立", "", "15"),
            ("满意度", "服务对象满意度", "群众满意度", ">=", "90", "%", "10"),
        ),
    ),
    "“互联网+监管”系统运维": (
        "保障“互联网+监管”系统稳定运行，监管数据及时归集。",
        (
            ("产出", "数量指标", "接入监管部门数", ">=", "40", "个", "8"),
            ("产出", "质量指标", "监管数据准确率", ">=", "98", "%", "8"),
            ("产出", "时效指标", "数据归集及时率", ">=", "95", "%", "8"),
            ("产出", "成本指标", "运维成本控制", "<=", "120", "万元", "6"),
            ("效益", "社会效益", "监管效能提升", "定性", "明显提升", "", "15"),
            ("效益", "经济效益", "降低企业迎检负担", "定性", "明显降低", "", "15"),
            ("满意度", "服务对象满意度", "使用部门满意度", ">=", "90", "%", "10"),
        ),
    ),
    "政务服务事项标准化": (
        "完成省级政务服务事项要素标准化梳理，实现同一事项同等条件无差别受理。",
        (
            ("产出", "数量指标", "标准化梳理事项数", ">=", "1200", "项", "10"),
            ("产出", "质量指标", "事项要素完整率", ">=", "98", "%", "10"),
            ("产出", "时效指标", "梳理完成时间", "date", "2022-10-31", "", "5"),
            ("产出", "成本指标", "项目成本控制", "<=", "90", "万元", "5"),
            ("效益", "社会效益", "无差别受理水平", "定性", "明显提升", "", "15"),
            ("效益", "可持续影响", "事项动态管理机制", "定性", "建立", "", "15"),
            ("满意度", "服务对象满意度", "办事群众满意度", ">=", "90", "%", "10"),
        ),
    ),
    "公共数据平台运维": (
        "保障省公共数据平台及机房设备稳定运行，数据共享服务不中断。",
        (
            ("产出", "数量指标", "运维设备数量", ">=", "320", "台（套）", "6"),
            ("产出", "质量指标", "设备完好率", ">=", "98", "%", "8"),
            ("产出", "质量指标", "平台可用率", ">=", "99.5", "%", "6"),
            ("产出", "时效指标", "故障响应时间", "<=", "2", "小时", "5"),
            ("产出", "成本指标", "运维成本控制", "<=", "260", "万元", "5"),
            ("效益", "社会效益", "数据共享服务能力", "定性", "明显提升", "", "15"),
            ("效益", "生态效益", "机房节能降耗", "定性", "有所改善", "", "15"),
            ("满意度", "服务对象满意度", "使用部门满意度", ">=", "90", "%", "10"),
        ),
    ),
    "数据共享交换平台升级": (
        "完成数据共享交换平台升级改造，提升跨部门数据交换能力。",
        (
            ("产出", "数量指标", "新增接入部门数", ">=", "15", "个", "8"),
            ("产出", "质量指标", "项目验收合格率", ">=", "98", "%", "8"),
            ("产出", "时效指标", "升级完成时间", "date", "2022-12-31", "", "8"),
            ("产出", "成本指标", "升级成本控制", "<=", "300", "万元", "6"),
            ("效益", "社会效益", "跨部门数据交换效率", "定性", "明显提升", "", "15"),
            ("效益", "可持续影响", "平台可扩展能力", "定性", "明显增强", "", "15"),
            ("满意度", "服务对象满意度", "使用部门满意度", ">=", "90", "%", "10"),
        ),
    ),
    # Projects whose targets are still on their way (no self-evaluation yet).
    "政务服务人员业务能力培训": (
        "组织全省政务服务人员业务培训，提升业务办理能力。",
        (
            ("产出", "数量指标", "培训人次", ">=", "800", "人次", "10"),
            ("产出", "质量指标", "培训考核合格率", ">=", "95", "%", "10"),
            ("产出", "时效指标", "培训完成时间", "date", "2022-10-31", "", "5"),
            ("产出", "成本指标", "人均培训成本", "<=", "700", "元/人次", "5"),
            ("效益", "社会效益", "业务能力提升", "定性", "明显提升", "", "30"),
            ("满意度", "服务对象满意度", "参训人员满意度", ">=", "90", "%", "10"),
        ),
    ),
    "政务大厅自助终端设备购置": (
        "购置并部署政务大厅自助服务终端，实现高频事项自助办理。",
        (
            ("产出", "数量指标", "设备购置数量", ">=", "60", "台（套）", "10"),
            ("产出", "质量指标", "设备验收合格率", ">=", "100", "%", "8"),
            ("产出", "时效指标", "采购完成时间", "date", "2022-09-30", "", "6"),
            ("产出", "成本指标", "设备采购成本控制", "<=", "240", "万元", "6"),
            ("效益", "社会效益", "自助办理事项占比提升", "定性", "明显提升", "", "15"),
            ("效益", "可持续影响", "设备使用年限", ">=", "5", "年", "15"),
            ("满意度", "服务对象满意度", "群众满意度", ">=", "90", "%", "10"),
        ),
    ),
    "数据中心配套道路养护补助": (
        "对省数据中心园区配套道路实施日常养护，保障通行安全。",
        (
            ("产出", "数量指标", "道路养护里程", ">=", "12", "公里", "10"),
            ("产出", "质量指标", "道路优良路率", ">=", "85", "%", "8"),
            ("产出", "时效指标", "补助资金拨付及时率", ">=", "100", "%", "6"),
            ("产出", "成本指标", "单位养护成本", "<=", "1.2", "万元/公里", "6"),
            ("效益", "社会效益", "道路通行条件改善", "定性", "明显改善", "", "30"),
            ("满意度", "服务对象满意度", "服务对象满意度", ">=", "90", "%", "10"),
        ),
    ),
}
# Targets that are not yet approved: (unit, project, state, return reason).
PENDING_TARGETS = (
    ("unit_a", "政务服务人员业务能力培训", "draft", ""),
    ("unit_b", "政务大厅自助终端设备购置", "submitted", ""),
    (
        "unit_c",
        "数据中心配套道路养护补助",
        "returned",
        "“设备使用年限”等效益指标请细化量化，补充测算依据。",
    ),
)
# The adjusted project: (project, 三级指标, original value, adjusted value, reason).
ADJUSTED = (
    "数据共享交换平台升级",
    "项目验收合格率",
    "98",
    "95",
    "受上游系统改造推迟影响，部分子系统验收顺延至次年，经批复调整目标值。",
)


def _target_rows(project: str) -> tuple[str, tuple[TargetRow, ...]]:
    goal, rows = DEMO_TARGETS[project]
    return goal, tuple(
        TargetRow(
            level1=l1,
            level2=l2,
            name=name,
            nature=nature,
            value=value,
            unit=unit,
            weight=Decimal(weight),
            source="demo",
        )
        for l1, l2, name, nature, value, unit, weight in rows
    )


def _project_entries(scheme: scoring.Scheme, grade: str) -> dict[str, dict[str, object]]:
    """A unit's entries for its own indicators: every target met for 优; for 良 the
    qualitative 效益 rows not reached; for 中 every row of its own falls short. Each
    shortfall carries the reason the rules ask for."""
    entries: dict[str, dict[str, object]] = {}
    reason = "受项目进度影响，部分目标未完全实现；下一年度将加快实施进度。"
    for ind in scheme.indicators:
        if ind.path[0] in ("决策", "过程"):
            continue
        short = grade == "中" or (grade == "良" and ind.path[0] == "效益")
        if ind.target is not None and ind.target.numeric and ind.target.value is not None:
            value = ind.target.value
            if not short:
                entries[ind.code] = {"actual": str(value)}
            else:
                # Half of a ≥ target, twice a ≤ one.
                actual = value * 2 if ind.rule.kind == "reverse" else value / 2
                entries[ind.code] = {"actual": str(actual.normalize()), "reason": reason}
            continue
        if short:
            entries[ind.code] = {"actual": "未达成预期目标", "tier": "未达成", "reason": reason}
        else:
            entries[ind.code] = {"actual": "达成预期目标", "tier": "达成"}
    return entries


# --- evaluations -----------------------------------------------------------------------------
