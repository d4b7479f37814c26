"""入侵防范 and small holes (issue 14 §6): control characters, bounded ids, caching,
HSTS, trusted hosts, the key check, ClamAV and the evidence quota."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import PASSWORD, login, make_sqlite_app
from tests.security.identity_helpers import production_config
from tests.workflow.helpers import in_state
from workflow import create_app
from workflow.core.extensions import db

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# The EICAR test string, put together here so that no file of the project carries it whole.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.mark.parametrize("bad", ["\x00", "\u202e", "\u2066", "\x1b"])
def test_control_characters_refused_everywhere(any_app: Flask, bad: str) -> None:
    client = any_app.test_client()
    resp = client.post("/login", data={"username": f"unit{bad}_a", "password": PASSWORD})
    assert resp.status_code == 400 and "控制字符" in resp.get_data(as_text=True)
    login(client, "unit_a")
    with any_app.app_context():
        ev = [e for e in in_state("draft") if e.project.unit.name.endswith("（机关）")][0]
        ev_id = ev.id
    resp = client.post(f"/evaluations/{ev_id}/edit", data={"problems": f"说明{bad}文字"})
    assert resp.status_code == 400 and "控制字符" in resp.get_data(as_text=True)
    assert client.get(f"/evaluations/?q=a{bad}").status_code == 400
    # Tabs and line breaks stay allowed.
    assert client.get("/evaluations/?q=a%09b").status_code == 200


def test_huge_ids_are_404_not_500(any_app: Flask) -> None:
    client = any_app.test_client()
    login(client, "finance")
    for url in (
        "/evaluations/2147483648",
        "/evaluations/99999999999999999999",
        "/notices/9223372036854775808/read",
    ):
        assert client.get(url).status_code in (404, 405), url
    assert client.get("/evaluations/2147483647").status_code == 404


def test_no_store_on_signed_in_pages_and_downloads(app: Flask) -> None:
    client = app.test_client()
    assert "no-store" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")
    login(client, "finance")
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert client.get("/dashboard/export.xlsx").headers.get("Cache-Control") == "no-store"
    assert "no-store" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")


def test_production_hsts_and_trusted_hosts(tmp_path: Path) -> None:
    app = create_app(production_config(tmp_path))
    with app.app_context():
        db.create_all()
    client = app.test_client()
    good = client.get("/login", base_url="https://jixiao.example.gov.cn")
    assert good.status_code == 200
    assert good.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert client.get("/login", base_url="https://evil.example").status_code == 400
    with pytest.raises(RuntimeError, match="TRUSTED_HOSTS"):
        create_app(production_config(tmp_path, TRUSTED_HOSTS=None))


@pytest.mark.parametrize("key", ["a" * 32, "ab" * 20, "x" * 64])
def test_repeated_character_secret_key_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(production_config(tmp_path, SECRET_KEY=key))


# --- ClamAV ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real clamd on a unix socket, with the project's small signature database."""
    if shutil.which("clamd") is None and not Path("/usr/sbin/clamd").exists():
        pytest.fail("找不到 clamd：请安装 Debian 软件包 clamav-daemon（Makefile 的 APT_RUN）")
    var = tmp_path_factory.mktemp("clamd")
    env = {**os.environ, "JIXIAO_VAR": str(var), "PATH": os.environ.get("PATH", "") + ":/usr/sbin"}
    proc = subprocess.Popen(
        ["sh", str(ROOT / "docker" / "clamav" / "clamd-run.sh")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"unix:{var / 'clamav' / 'clamd.sock'}"
    from workflow.core import clamav

    deadline = time.monotonic() + 60
    while not clamav.ping(address):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("clamd 未能启动：" + (var / "clamav" / "clamd.log").read_text()[-2000:])
        time.sleep(0.2)
    yield address
    proc.terminate()
    proc.wait(timeout=10)


def _upload(client, ev_id: int, name: str, content: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        f"/evaluations/{ev_id}/evidence",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def _draft_of_unit_a(app: Flask) -> int:
    with app.app_context():
        return [e for e in in_state("draft") if e.project.unit.name.endswith("（机关）")][0].id


def test_eicar_refused_by_clamd(sqlite_template, tmp_path, clamd: str) -> None:  # type: ignore[no-untyped-def]
    app = make_sqlite_app(sqlite_template, tmp_path, CLAMD_ADDRESS=clamd)
    client = app.test_client()
    login(client, "unit_a")
    ev_id = _draft_of_unit_a(app)
    bad = _upload(client, ev_id, "报告.pdf", EICAR)
    assert "病毒" in bad.get_data(as_text=True) and "Eicar" in bad.get_data(as_text=True)
    ok = _upload(client, ev_id, "报告.pdf", PDF)
    assert "报告.pdf" in ok.get_data(as_text=True) and "病毒" not in ok.get_data(as_text=True)
    assert not list((tmp_path / "var" / "evidence").glob("*.part"))
    # A scanner that is configured but down refuses the file (fail closed).
    (tmp_path / "down").mkdir()
    down = make_sqlite_app(
        sqlite_template, tmp_path / "down", CLAMD_ADDRESS="unix:/nonexistent.sock"
    )
    other = down.test_client()
    login(other, "unit_a")
    assert "病毒扫描服务暂时不可用" in _upload(other, ev_id, "a.pdf", PDF).get_data(as_text=True)


def test_evidence_quota_of_files_and_bytes(sqlite_template, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_sqlite_app(
        sqlite_template, tmp_path, EVIDENCE_MAX_FILES=2, EVIDENCE_QUOTA_BYTES=len(PDF) * 2 + 10
    )
    client = app.test_client()
    login(client, "unit_a")
    ev_id = _draft_of_unit_a(app)
    assert "病毒" not in _upload(client, ev_id, "a.pdf", PDF).get_data(as_text=True)
    big = _upload(client, ev_id, "b.pdf", PDF + b"x" * 20)
    assert "合计不能超过" in big.get_data(as_text=True)
    _upload(client, ev_id, "c.pdf", PDF)
    third = _upload(client, ev_id, "d.pdf", PDF)
    assert "最多上传 2 个" in third.get_data(as_text=True)


def test_clamd_is_started_by_make_run_and_by_compose() -> None:
    """`make run` (honcho, the Procfile) and compose each start clamd, on the socket the web
    process is given; a missing clamd makes the upload refuse (fail closed, test above)."""
    import yaml

    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert "docker/clamav/clamd-run.sh" in procfile["clamd"]
    assert "CLAMD_ADDRESS=${CLAMD_ADDRESS:-unix:$JIXIAO_VAR/clamav/clamd.sock}" in procfile["web"]
    run = (ROOT / "docker" / "clamav" / "clamd-run.sh").read_text()
    assert "LocalSocket $run/clamd.sock" in run and 'run=$(cd "$var/clamav"' in run
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["clamav"]["command"] == ["sh", "docker/clamav/clamd-run.sh"]
    assert services["clamav"]["environment"]["JIXIAO_VAR"] == "/data"
    assert services["web"]["environment"]["CLAMD_ADDRESS"] == "unix:/data/clamav/clamd.sock"
