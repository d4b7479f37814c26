"""The security-event log (GB/T 22239 §8.1.4.3 a/b): every kind the application writes is
produced by the action it names, with its fields; every file that leaves the system is
logged once; the viewer has a label for every kind the code writes."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, login
from tests.security.identity_helpers import set_user
from tests.workflow.helpers import in_state, user
from workflow.core.audit import KINDS
from workflow.core.extensions import db
from workflow.models import Evaluation, Org, SecurityEvent

ROOT = Path(__file__).resolve().parents[2]


def _kinds(app: Flask) -> dict[str, list[SecurityEvent]]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(SecurityEvent).order_by(SecurityEvent.seq)))
        for row in rows:
            db.session.expunge(row)
    out: dict[str, list[SecurityEvent]] = {}
    for row in rows:
        out.setdefault(row.kind, []).append(row)
    return out


def _uid(app: Flask, username: str) -> int:
    with app.app_context():
        return user(username).id


def _signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def test_every_kind_is_written_by_its_action(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    before = {k: len(v) for k, v in _kinds(app).items()}

    # Identity: sign in and out, a failure, a lock and its end, a timeout, a change.
    unit_a = _signed_in(app, "unit_a")
    unit_a.post("/logout")
    app.test_client().post("/login", data={"username": "unit_b", "password": "Wrong-pass-1"})
    for _ in range(5):
        app.test_client().post("/login", data={"username": "unit_c", "password": "Wrong-pass-1"})
    app.test_client().post("/login", data={"username": "unit_c", "password": PASSWORD})
    half = app.test_client()
    half.post("/login", data={"username": "reviewer", "password": PASSWORD})
    half.post("/login/verify", data={"code": "000000"})
    secadmin = _signed_in(app, "secadmin")
    assert secadmin.post(f"/admin/users/{_uid(app, 'unit_c')}/unlock").status_code == 302
    idle = _signed_in(app, "unit_a_head")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=45)):
        assert idle.get("/").status_code == 302
    changer = _signed_in(app, "unit_b")
    new = "Fresh-lantern-71"
    changer.post("/password", data={"current": PASSWORD, "new": new, "confirm": new})

    # The second factor: enrolment, a recovery code, a reset by the security administrator.
    set_user(app, "reviewer_2", totp_secret=None, totp_enabled_at=None, recovery_codes=None)
    enrol = app.test_client()
    enrol.post("/login", data={"username": "reviewer_2", "password": PASSWORD})
    page = enrol.get("/login/totp-setup").get_data(as_text=True)
    import re

    from workflow.auth import totp

    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    done = enrol.post("/login/totp-setup", data={"code": totp.code_at(secret)})
    code = re.findall(r"([a-z0-9]{4}-[a-z0-9]{4})</li>", done.get_data(as_text=True))[0]
    again = app.test_client()
    again.post("/login", data={"username": "reviewer_2", "password": PASSWORD})
    assert again.post("/login/verify", data={"code": code}).status_code == 302
    assert secadmin.post(f"/admin/users/{_uid(app, 'reviewer_2')}/totp-reset").status_code == 302

    # Administrators: a business user, a role, a reset, two requests (one approved, one not).
    sysadmin = _signed_in(app, "sysadmin")
    with app.app_context():
        unit_org = db.session.scalar(sa.select(Org.id).where(Org.kind == "unit"))
        finance_org = db.session.scalar(sa.select(Org.id).where(Org.kind == "finance"))
    created = sysadmin.post(
        "/admin/users",
        data={"username": "new_staff", "name": "新填报人", "role": "unit_staff",
              "org_id": unit_org, "password": "Kite-Lantern-27"},
    )  # fmt: skip
    assert created.status_code == 302
    assert (
        secadmin.post(
            f"/admin/users/{_uid(app, 'new_staff')}/role", data={"role": "unit_head"}
        ).status_code
        == 302
    )
    assert (
        secadmin.post(
            f"/admin/users/{_uid(app, 'new_staff')}/password", data={"password": "Reset-pass-19"}
        ).status_code
        == 302
    )
    for name in ("adm_yes", "adm_no"):
        sysadmin.post(
            "/admin/admins",
            data={"username": name, "name": name, "role": "auditor", "org_id": finance_org},
        )
    from workflow.models import AdminRequest

    with app.app_context():
        ids = dict(db.session.execute(sa.select(AdminRequest.username, AdminRequest.id)).all())
    assert secadmin.post(f"/admin/admins/{ids['adm_yes']}/approve").status_code == 302
    assert secadmin.post(f"/admin/admins/{ids['adm_no']}/reject").status_code == 302

    # A refused object; an export; a download; the auditor's query and export.
    with app.app_context():
        others = [e.id for e in in_state("draft") if e.unit.name != user("unit_b").org.name]
        mine = [e.id for e in in_state("draft") if e.unit_id == user("unit_a").org_id]
    unit_b = app.test_client()
    login(unit_b, "unit_b", new)
    assert unit_b.get(f"/evaluations/{others[0]}").status_code == 404
    finance = _signed_in(app, "finance")
    assert finance.get("/dashboard/export.xlsx").status_code == 200
    owner = _signed_in(app, "unit_a")
    assert owner.get(f"/evaluations/{mine[0]}/workbook.xlsx").status_code == 200
    auditor = _signed_in(app, "auditor")
    assert auditor.get("/audit/?log=security").status_code == 200
    assert auditor.get("/audit/export.xlsx?log=security").status_code == 200

    # The seal: a confirmation signs; a changed final total is reported when shown.
    with app.app_context():
        pending = in_state("finance_confirmation")[0].id
    fired = runner.invoke(args=["evaluations", "fire", str(pending), "confirm", "--as", "finance"])
    assert fired.exit_code == 0, fired.output
    with app.app_context():
        db.session.execute(
            sa.update(Evaluation).where(Evaluation.id == pending).values(final_total=100)
        )
        db.session.commit()
    assert "已篡改" in finance.get(f"/evaluations/{pending}").get_data(as_text=True)
    assert runner.invoke(args=["evaluations", "verify", str(pending)]).exit_code == 1

    # The commands: the chain check, key rotation.
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0

    written = _kinds(app)
    # Last, the archive: a year on, everything written so far is past the retention.
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400)):
        cutoff = (datetime.now(UTC).date() - timedelta(days=200)).isoformat()
        archived = runner.invoke(
            args=["audit", "archive", "--before", cutoff, str(tmp_path / "a.jsonl")]
        )
    assert archived.exit_code == 0, archived.output
    written["audit_archive"] = _kinds(app)["audit_archive"]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    new_kinds = {k for k, v in written.items() if len(v) > before.get(k, 0)}
    missing = set(KINDS) - new_kinds
    assert not missing, f"没有动作写出这些类别：{sorted(missing)}"
    # Every row has its fields: time, outcome, and for a signed-in actor name and role.
    for kind in KINDS:
        row = written[kind][-1]
        assert row.created_at is not None and row.outcome in ("success", "failure", "denied")
        assert row.seq and row.chain and len(row.chain) == 64, kind
    for kind in ("login", "denied", "export", "download", "audit_export", "role_change"):
        row = written[kind][-1]
        assert row.username and row.role and row.ip == "127.0.0.1", kind
        assert row.user_agent.startswith("Werkzeug/"), kind
    assert written["seal_invalid"][-1].object == f"evaluation:{pending}"
    assert written["seal"][-1].username == "finance"


def test_every_file_that_leaves_is_logged_once(app: Flask) -> None:
    """Downloads whose routes log nothing themselves (the 自评表 workbook, the indicator
    library) are logged by the hook; those that log (the ZIP of sheets, the dashboard export,
    the audit export) are not logged twice."""
    with app.app_context():
        mine = [e.id for e in in_state("draft") if e.unit_id == user("unit_a").org_id][0]
        cycle = in_state("draft")[0].cycle_id
    owner = _signed_in(app, "unit_a")
    finance = _signed_in(app, "finance")
    sysadmin = _signed_in(app, "sysadmin")
    auditor = _signed_in(app, "auditor")
    # The ZIP of sheets is built by the bulk worker's task; its download is the file.
    from tests.workflow.sheethelpers import run_zip_jobs

    assert finance.post("/workbooks/sheets-zip", data={"cycle": str(cycle)}).status_code == 302
    [zip_id] = run_zip_jobs(app)
    cases = [
        (owner, f"/evaluations/{mine}/workbook.xlsx", "download"),
        (finance, f"/workbooks/sheets-zip/{zip_id}/download", "download"),
        (sysadmin, "/targets/library/export.xlsx", "download"),
        (finance, "/dashboard/export.xlsx", "export"),
        (auditor, "/audit/export.xlsx?log=audit", "audit_export"),
    ]
    for client, url, kind in cases:
        before = _kinds(app)
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["Content-Disposition"].startswith("attachment"), url
        after = _kinds(app)
        added = {k: len(after.get(k, [])) - len(before.get(k, [])) for k in after}
        file_rows = {
            k: n for k, n in added.items() if n and k in ("download", "export", "audit_export")
        }
        assert file_rows == {kind: 1}, (url, file_rows)
        row = after[kind][-1]
        assert row.outcome == "success" and row.user_id is not None, url


def _written_kinds() -> set[str]:
    """Every kind the code writes: record_security_event's first argument, the auth events
    (mapped to the log's kinds), the administrators' kind= arguments."""
    from workflow.auth.operations import _KIND

    found: set[str] = set()
    for path in (ROOT / "workflow").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("record_security_event", "record_event", "log_access") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(_KIND.get(first.value, first.value))
            if name == "_count_failure" and len(node.args) > 2:
                third = node.args[2]
                if isinstance(third, ast.Constant) and isinstance(third.value, str):
                    found.add(third.value)
            for kw in node.keywords:
                if (
                    kw.arg == "kind"
                    and name in ("admin_event", "record_security_event")
                    and isinstance(kw.value, ast.Constant)
                ):
                    found.add(str(kw.value.value))
    return found


def test_the_viewer_has_a_label_for_every_kind_written() -> None:
    written = _written_kinds()
    assert {"login", "lockout", "seal", "seal_invalid", "second_factor_failed"} <= written
    assert written - set(KINDS) == set(), "安全事件类别缺少中文名称（core/audit.py KINDS）"
