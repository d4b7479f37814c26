"""Who may open what, generated from the app's URL map: a new route that is not classified
here fails the test, so none can be left out. Every probe runs on SQLite and on PostgreSQL.

- anonymous visitors get the login page (redirect) for everything but /login and /healthz;
- a role-bound page answers 404 to every other role;
- an evaluation-bound URL answers 404 to every user outside the evaluation's unit and
  department (and to nobody else), for GET and POST alike, and changes nothing.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from flask import Flask, current_app
from sqlalchemy import func, select

from tests.conftest import login
from tests.workflow.helpers import seed_evaluation
from workflow.core.extensions import db
from workflow.machine import Role
from workflow.models import (
    AuditLog,
    BulkImport,
    Evaluation,
    Evidence,
    LibraryIndicator,
    Notice,
    RecheckItem,
    Rectification,
    TargetSet,
    User,
)

ALL_USERS = [
    "unit_a",
    "unit_a_head",
    "unit_b",
    "reviewer",
    "unit_c",
    "reviewer_2",
    "finance",
    "sysadmin",
    "secadmin",
    "auditor",
    "expert",
]
PUBLIC = {"auth.login", "healthz", "static", "bootstrap.static"}
ANY_USER = {
    "home.index",
    "auth.logout",
    "auth.password",
    # The second login step and the enrolment: the user between password and code, or a
    # signed-in one; anonymous visitors are sent to the login page.
    "auth.second_factor",
    "auth.enrol",
    "notices.index",
    "notices.read_all",
    "evaluations.index",
    "workbooks.index",  # shows each role its own part (upload for units, the ZIP for others)
    "targets.index",
    "targets.open_targets",  # refuses a project of another unit itself (its own test)
}
ROLE_BOUND: dict[str, set[str]] = {
    "review.queue": {Role.REVIEWER},
    "finance.queue": {Role.FINANCE},
    "finance.bulk": {Role.FINANCE},
    "finance.bulk_confirm": {Role.FINANCE},
    "finance.bulk_result": {Role.FINANCE},
    "dashboard.index": {Role.REVIEWER, Role.FINANCE, Role.SYSADMIN},
    "dashboard.export_xlsx": {Role.REVIEWER, Role.FINANCE, Role.SYSADMIN},
    "evaluations.pdf_zip": {Role.REVIEWER, Role.FINANCE, Role.SYSADMIN},
    # The ZIP of sheets: asked for and polled by a department, finance, the administrator;
    # its file is the requester's alone (OWN_FILES below).
    "workbooks.zip_request": {Role.REVIEWER, Role.FINANCE, Role.SYSADMIN},
    "workbooks.zip_status": {Role.REVIEWER, Role.FINANCE, Role.SYSADMIN},
    "workbooks.upload_many": {Role.UNIT_STAFF, Role.UNIT_HEAD},
    # 代为上传: the department and finance upload filled sheets into units' drafts; which
    # evaluation each file may fill is decided per file (ON_BEHALF below).
    "workbooks.upload_on_behalf": {Role.REVIEWER, Role.FINANCE},
    # 三员分立: the audit administrator's pages, nobody else's.
    "audit.index": {Role.AUDITOR},
    "audit.export_xlsx": {Role.AUDITOR},
    "targets.import_targets": {Role.FINANCE, Role.SYSADMIN},
    "targets.import_template": {Role.FINANCE, Role.SYSADMIN},
    "targets.library": {Role.SYSADMIN},
    "targets.library_edit": {Role.SYSADMIN},
    "targets.library_active": {Role.SYSADMIN},
    "targets.library_export": {Role.SYSADMIN},
    "targets.library_import": {Role.SYSADMIN},
    # Bulk import of published forms: finance and the system administrator.
    "bulk.index": {Role.FINANCE, Role.SYSADMIN},
    "bulk.detail": {Role.FINANCE, Role.SYSADMIN},
    "bulk.status": {Role.FINANCE, Role.SYSADMIN},
    "bulk.report_xlsx": {Role.FINANCE, Role.SYSADMIN},
    "bulk.report_json": {Role.FINANCE, Role.SYSADMIN},
    # 抽查复核: finance runs it; the 复核专家 sees the list and the items assigned to it (the
    # world's item is assigned to "expert"); units, departments and administrators see none.
    "rechecks.index": {Role.FINANCE, Role.EXPERT},
    "rechecks.create_batch": {Role.FINANCE},
    "rechecks.batch": {Role.FINANCE},
    "rechecks.assign": {Role.FINANCE},
    "rechecks.item": {Role.FINANCE, Role.EXPERT},
    "rechecks.item_post": {Role.FINANCE, Role.EXPERT},
    "rechecks.deviation": {Role.FINANCE},
    "rechecks.deviation_xlsx": {Role.FINANCE},
    "rechecks.results": {Role.FINANCE},
    "rechecks.set_advice": {Role.FINANCE},
    "rechecks.advice_xlsx": {Role.FINANCE},
    "rechecks.public_bundle": {Role.FINANCE},
    "rechecks.public_bundle_status": {Role.FINANCE},
    "rechecks.public_bundle_download": {Role.FINANCE},
    "rechecks.risks": {Role.REVIEWER, Role.FINANCE, Role.SYSADMIN},
    "rechecks.generate_rectifications": {Role.FINANCE},
    "rechecks.rectifications": {Role.FINANCE, Role.REVIEWER, Role.UNIT_STAFF, Role.UNIT_HEAD},
}
# Objects of a re-check that belong to one unit: the users who may use them (the world's
# evidence request and 整改 item are unit A's).
RECHECK_OWNED: dict[str, set[str]] = {
    "rechecks.answer": {"unit_a", "unit_a_head"},
    # The files of the unit's answer: the item's re-checker, finance and the unit itself.
    "rechecks.answer_file": {"unit_a", "unit_a_head", "finance", "expert"},
    # Owner and due date of unit A's 整改 item: finance and unit A's department.
    "rechecks.edit_rectification": {"finance", "reviewer"},
    "rechecks.close_rectification": {"unit_a", "unit_a_head", "finance"},
    # The world's evidence file belongs to the seed evaluation, not to the item's: nobody may
    # fetch it through the item (test_recheck_pages checks the expert gets the item's own).
    "rechecks.evidence": set(),
    # The world's ZIP of sheets was asked for by department 1's reviewer: nobody else, not
    # the other department, not finance, may fetch it.
    "workbooks.zip_file": {"reviewer"},
}
ADMIN_PREFIXES = ("admin.", "accounts.")
# 三员分立: which administrator each admin page serves (written out here, independently of
# the routes' own table, so that a page given to the wrong administrator fails).
SYS, SEC = {Role.SYSADMIN}, {Role.SECADMIN}
ADMIN_PAGES: dict[str, set[Role]] = {
    "admin.index": SYS | SEC,
    "admin.orgs": SYS,
    "accounts.users": SYS | SEC,
    "accounts.disable_user": SYS,
    "accounts.enable_user": SYS,
    "accounts.reset_password": SEC,
    "accounts.unlock_user": SEC,
    "accounts.reset_totp": SEC,
    "accounts.change_role": SEC,
    "accounts.admins": SYS | SEC,
    "accounts.approve_admin": SYS | SEC,
    "accounts.reject_admin": SYS | SEC,
    "admin.cycles": SYS,
    "admin.cycle_new": SYS,
    "admin.cycle_edit": SYS,
    "admin.schemes": SYS,
    "admin.import_form": SYS,
    "admin.reminders": SYS,
    "admin.resend_reminder": SYS,
    "admin.resend_all_reminders": SYS,
}
# Evaluation-bound endpoints: everything under /evaluations/<id>, /review/<id>, /finance/<id>.
EVALUATION_PARAM = "evaluation_id"
# Targets-bound endpoints (/targets/<id>...): the seed project's targets, unit A's, are
# hidden from the same outsiders.
TARGETS_PARAM = "targets_id"
# The seed evaluation belongs to unit A of department 1: these may not even learn it exists.
# The security and audit administrators see no business data at all.
OUTSIDERS = ["unit_b", "unit_c", "reviewer_2", "secadmin", "auditor", "expert"]
# Owned objects that are not evaluations.
OWNED = {"notices.read": "notice_id"}


def _classify(endpoint: str, arguments: set[str]) -> str:
    if endpoint in PUBLIC:
        return "public"
    if endpoint in ANY_USER:
        return "any"
    if endpoint.startswith(ADMIN_PREFIXES):
        return "admin"
    if endpoint in ROLE_BOUND:
        return "role"
    if endpoint in RECHECK_OWNED:
        return "recheck"
    if EVALUATION_PARAM in arguments or TARGETS_PARAM in arguments:
        return "evaluation"
    if endpoint in OWNED:
        return "owned"
    raise AssertionError(f"unclassified route {endpoint}: add it to the access matrix")


@pytest.fixture
def app(any_app: Flask) -> Flask:
    """Every probe on SQLite and on PostgreSQL, where a GET reads in autocommit: every page
    each role may open, opened on both."""
    return any_app


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    with app.app_context():
        ev = seed_evaluation()
        unit_a = db.session.scalar(select(User).where(User.username == "unit_a"))
        evidence = Evidence(
            evaluation_id=ev.id,
            original_name="佐证.pdf",
            stored_name="matrix-probe.pdf",
            content_type="application/pdf",
            size=4,
            sha256="0" * 64,
            uploaded_by_id=unit_a.id,
        )
        notice = Notice(user_id=unit_a.id, evaluation_id=ev.id, kind="probe", title="probe")
        bulk = BulkImport(actor_name="probe", source="cli", status="done", total=0, processed=0)
        db.session.add_all([evidence, notice, bulk])
        db.session.commit()
        user = db.session.scalar(select(User).where(User.username == "unit_b"))
        targets = db.session.scalar(select(TargetSet).where(TargetSet.project_id == ev.project_id))
        # The demo batch's item waiting for unit A's evidence, and a 整改 item of unit A.
        item = db.session.scalar(
            select(RecheckItem).where(RecheckItem.state == "awaiting_evidence")
        )
        assert item is not None and item.unit_id == ev.unit_id
        rectification = Rectification(
            evaluation_id=item.evaluation_id,
            cycle_id=ev.cycle_id,
            unit_id=item.unit_id,
            department_id=item.department_id,
            problem="probe",
            measure="probe",
            owner_id=unit_a.id,
            due_on=date(2030, 1, 1),
        )
        db.session.add(rectification)
        db.session.flush()
        # A file of unit A's answer to the item, and a ready public bundle, both on disk.
        from pathlib import Path

        from workflow.models import AnswerFile, EvidenceRequest, PublicBundle

        request = db.session.scalar(
            select(EvidenceRequest).where(EvidenceRequest.item_id == item.id)
        )
        answer_file = AnswerFile(
            request_id=request.id,
            item_id=item.id,
            original_name="补充.pdf",
            stored_name="matrix-answer.pdf",
            content_type="application/pdf",
            size=4,
            sha256="0" * 64,
            uploaded_by_id=unit_a.id,
        )
        finance = db.session.scalar(select(User).where(User.username == "finance"))
        bundle = PublicBundle(
            cycle_id=ev.cycle_id,
            requested_by_id=finance.id,
            state="ready",
            path="public/matrix.zip",
            size=4,
        )
        from workflow.models import SheetsZip

        reviewer = db.session.scalar(select(User).where(User.username == "reviewer"))
        sheets = SheetsZip(
            cycle_id=ev.cycle_id,
            scope="department",
            department_id=reviewer.org_id,
            requested_by_id=reviewer.id,
            state="ready",
            path="zips/matrix.zip",
            size=4,
        )
        db.session.add_all([answer_file, bundle, sheets])
        db.session.commit()
        for folder, name in (
            ("EVIDENCE_DIR", "matrix-answer.pdf"),
            ("PDF_DIR", "public/matrix.zip"),
            ("VAR_DIR", "zips/matrix.zip"),
        ):
            target = Path(current_app.config[folder]) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"%PDF")
        indicator = db.session.scalar(select(LibraryIndicator))
        assert targets is not None and indicator is not None
        return {
            "targets_id": targets.id,
            "batch_id": item.batch_id,
            "item_id": item.id,
            "rectification_id": rectification.id,
            "file_id": answer_file.id,
            "bundle_id": bundle.id,
            "zip_id": sheets.id,
            "indicator_id": indicator.id,
            "evaluation_id": ev.id,
            "evidence_id": evidence.id,
            "bulk_import_id": bulk.id,
            "notice_id": notice.id,
            "user_id": user.id,
            "cycle_id": ev.cycle_id,
            "event": "submit",
            "org_id": ev.unit_id,
            "request_id": 1,
            "claim_id": 1,  # a reminder delivery: the page refuses before it looks
        }


def _routes(app: Flask) -> list[tuple[str, str, str, set[str]]]:
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule.rule, set(rule.arguments)))
    return routes


def _url(app: Flask, endpoint: str, arguments: set[str], world: dict[str, Any]) -> str:
    with app.test_request_context():
        from flask import url_for

        values = {}
        for arg in arguments:
            if arg == "filename":
                values[arg] = "css/app.css"
            else:
                assert arg in world, f"no probe value for URL argument {arg} of {endpoint}"
                values[arg] = world[arg]
        return url_for(endpoint, **values)


def _request(client: Any, method: str, url: str) -> Any:
    if method == "GET":
        return client.get(url)
    return client.post(
        url,
        data={"reason": "x", "file": (io.BytesIO(b"%PDF"), "a.pdf")},
        content_type="multipart/form-data",
    )


def _snapshot(app: Flask, evaluation_id: int) -> tuple[int, int, int]:
    with app.app_context():
        ev = db.session.get(Evaluation, evaluation_id)
        audits = db.session.scalar(select(func.count()).select_from(AuditLog))
        evidence = db.session.scalar(select(func.count()).select_from(Evidence))
        return ev.version, audits, evidence


def test_every_route_is_classified(app: Flask) -> None:
    for endpoint, _method, _rule, arguments in _routes(app):
        _classify(endpoint, arguments)


def test_anonymous_gets_the_login_page(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    for endpoint, method, _rule, arguments in _routes(app):
        if _classify(endpoint, arguments) == "public":
            continue
        resp = _request(client, method, _url(app, endpoint, arguments, world))
        assert resp.status_code in (302, 401), (endpoint, method, resp.status_code)
        if resp.status_code == 302:
            assert "/login" in resp.headers["Location"], endpoint


@pytest.mark.parametrize("username", ALL_USERS)
def test_matrix(app: Flask, world: dict[str, Any], username: str) -> None:
    client = app.test_client()
    login(client, username)
    with app.app_context():
        role = db.session.scalar(select(User.role).where(User.username == username))
    before = _snapshot(app, world["evaluation_id"])
    checked = 0
    for endpoint, method, _rule, arguments in _routes(app):
        kind = _classify(endpoint, arguments)
        if kind in ("public", "any"):
            continue
        allowed: bool | None
        if kind == "admin":
            assert endpoint in ADMIN_PAGES, f"admin page {endpoint} not in ADMIN_PAGES"
            allowed = role in ADMIN_PAGES[endpoint]
        elif kind == "role":
            allowed = role in ROLE_BOUND[endpoint]
        elif kind == "recheck":
            allowed = username in RECHECK_OWNED[endpoint]
        elif kind == "evaluation":
            allowed = None if username not in OUTSIDERS else False
        else:  # owned by unit_a
            allowed = username == "unit_a"
        if allowed is False:
            resp = _request(client, method, _url(app, endpoint, arguments, world))
            assert resp.status_code == 404, (username, endpoint, method, resp.status_code)
            checked += 1
        elif allowed and method == "GET" and kind != "evaluation":
            resp = client.get(_url(app, endpoint, arguments, world))
            assert resp.status_code in (200, 302), (username, endpoint, resp.status_code)
            checked += 1
    if username in OUTSIDERS or username != "sysadmin":
        assert _snapshot(app, world["evaluation_id"]) == before, (
            "a refused request changed something"
        )
    assert checked > 0
    if username in OUTSIDERS:
        bound = [r for r in _routes(app) if _classify(r[0], r[3]) == "evaluation"]
        assert len(bound) >= 10 and checked >= len(bound)


@pytest.mark.parametrize("username", ["unit_a", "unit_a_head", "reviewer", "finance", "sysadmin"])
def test_insiders_can_open_the_evaluation(app: Flask, world: dict[str, Any], username: str) -> None:
    client = app.test_client()
    login(client, username)
    resp = client.get(f"/evaluations/{world['evaluation_id']}")
    assert resp.status_code == 200
    assert "政务服务信息系统建设维护和迭代升级" in resp.get_data(as_text=True)


# 代为上传 (POST /workbooks/upload-for-units) of the seed's filled sheet (unit A's draft, of
# department 1), for every user: "saved" (its department's reviewer, finance), "refused" (a
# reviewer of another department: a result for the file, nothing saved), 404 (not their page).
ON_BEHALF: dict[str, str | int] = {
    "unit_a": 404,  # the owning unit uploads as itself (/workbooks/upload), not on its behalf
    "unit_a_head": 404,
    "unit_b": 404,
    "reviewer": "saved",
    "unit_c": 404,
    "reviewer_2": "refused",
    "finance": "saved",
    "sysadmin": 404,
    "secadmin": 404,
    "auditor": 404,
    "expert": 404,
}


def test_on_behalf_table_lists_every_user() -> None:
    assert set(ON_BEHALF) == set(ALL_USERS)


@pytest.mark.parametrize("username", ALL_USERS)
def test_upload_on_behalf_by_role(app: Flask, world: dict[str, Any], username: str) -> None:
    from tests.workflow.sheethelpers import BUDGET, ON_BEHALF_URL, download, fill, post_files

    seed = world["evaluation_id"]
    owner = app.test_client()
    login(owner, "unit_a")
    data = fill(download(owner, seed), {f"e-{BUDGET}-denominator": 1000})
    client = app.test_client()
    login(client, username)
    before = _snapshot(app, seed)
    resp = post_files(client, ON_BEHALF_URL, [(data, "seed.xlsx")])
    expected = ON_BEHALF[username]
    body = resp.get_data(as_text=True)
    if expected == 404:
        assert resp.status_code == 404, (username, resp.status_code)
        assert _snapshot(app, seed) == before
    elif expected == "refused":
        assert resp.status_code == 200 and "该表不属于您所辖的单位" in body, username
        assert _snapshot(app, seed) == before
    else:
        assert resp.status_code == 200 and "已保存到单位草稿" in body, username
        version, audits, evidence = before
        assert _snapshot(app, seed) == (version + 1, audits + 1, evidence)


def test_on_behalf_policy_in_every_state_for_every_user(app: Flask) -> None:
    """The policy's UPLOAD_ON_BEHALF: only while the unit could save the draft itself, only
    the evaluation's own department or finance; never the unit, an administrator or expert."""
    from tests.workflow.helpers import in_state, user
    from workflow import policy
    from workflow.machine import State

    with app.app_context():
        users = [user(name) for name in ALL_USERS]
        seen = set()
        for state in State:
            for ev in in_state(state.value):
                for actor in users:
                    expected = state is State.DRAFT and (
                        actor.role == Role.FINANCE
                        or (actor.role == Role.REVIEWER and actor.org_id == ev.department_id)
                    )
                    allowed = policy.can(actor, policy.UPLOAD_ON_BEHALF, ev)
                    assert allowed == expected, (actor.username, state, ev.id)
                    seen.add((actor.username, allowed))
        assert ("reviewer", True) in seen and ("reviewer_2", True) in seen
        assert ("finance", True) in seen and ("unit_a", True) not in seen
