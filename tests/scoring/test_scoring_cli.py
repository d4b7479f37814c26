"""``python -m scoring check`` and ``validate`` as a user runs them (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def test_check_json_seed(seed_path: Path) -> None:
    result = run("check", str(seed_path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total"] == {"published": "98.5", "computed": "98.50"}
    assert data["grade"] == "优"
    assert set(data["scheme"]) == {"name", "version"}
    first = data["indicators"][0]
    assert first["path"] == ["决策", "项目立项", "立项依据充分性"]
    assert first["weight"] == "2" and first["published"] == "2" and first["computed"] == "2.00"
    assert isinstance(first["explanation"], str) and first["explanation"]
    budget = next(i for i in data["indicators"] if i["path"][2] == "预算执行率")
    flag = next(f for f in budget["flags"] if f["code"] == "label_score_mismatch")
    assert set(flag) == {"code", "message", "blocking"} and flag["blocking"] is False
    assert isinstance(data["flags"], list)
    assert all({"row", "message"} <= set(p) for p in data["problems"])


def test_check_text_central(central_path: Path) -> None:
    result = run("check", str(central_path))
    assert result.returncode == 0, result.stderr
    assert "计算总分 95.60" in result.stdout and "公布总分 95.6" in result.stdout
    assert "全年执行数 / 全年预算数 = 45 / 50 = 90.00%" in result.stdout


def test_check_unreadable_exit_2(tmp_path: Path) -> None:
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x00\x01\x02garbage")
    result = run("check", str(binary), "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "二进制" in result.stderr and "Traceback" not in result.stderr
    missing = run("check", str(tmp_path / "none.txt"))
    assert missing.returncode == 2 and "找不到文件" in missing.stderr


def test_validate_shipped_and_bad(tmp_path: Path) -> None:
    ok = run("validate", str(ROOT / "scoring" / "schemes" / "jiangsu-2022.json"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nversion: 1\ntitle: t\ntotal: 100\nna_policy: rescale\ntree:\n"
        "  - name: 产出\n    children:\n      - name: 数量\n        indicators:\n"
        "          - {code: q1, name: 人次, weight: 90, target: '≥10', rule: {kind: forward}}\n",
        encoding="utf-8",
    )
    result = run("validate", str(bad))
    assert result.returncode == 1
    assert "total" in result.stdout
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    unreadable = run("validate", str(broken))
    assert unreadable.returncode == 2 and "JSON" in unreadable.stderr
