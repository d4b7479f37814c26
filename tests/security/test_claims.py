"""The GB/T 22239-2019 §8.1.4 application items this system claims, each mapped to the
tests that prove it (GB/T 28448-2019 test ids in brackets). A claimed item without a test,
or a test named here that does not exist, fails this file.

Rows for 访问控制, 安全审计 and the data items (issue 14 §2–§5) are added by that work."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CLAIMS: dict[str, tuple[str, list[str]]] = {
    # 8.1.4.1 身份鉴别
    "8.1.4.1 a": (
        "身份标识唯一，口令复杂度并定期更换 (L3-CES1-01)",
        [
            "tests/security/test_identity.py::test_usernames_unique_regardless_of_case",
            "tests/security/test_identity.py::test_password_policy",
            "tests/security/test_identity.py::test_none_of_the_last_five_reused",
            "tests/security/test_identity.py::test_change_forced_at_first_login_after_reset_and_on_expiry",
            "tests/security/test_identity.py::test_demo_passwords_follow_the_policy",
        ],
    ),
    "8.1.4.1 b": (
        "登录失败处理、会话超时与退出 (L3-CES1-02)",
        [
            "tests/security/test_identity.py::test_five_failures_lock_for_thirty_minutes_and_admin_unlocks",
            "tests/security/test_identity.py::test_unlock_command",
            "tests/security/test_identity.py::test_unknown_and_known_users_alike",
            "tests/security/test_identity.py::test_second_factor_failures_lock_the_account",
            "tests/security/test_identity.py::test_idle_timeout_on_the_server",
            "tests/security/test_identity.py::test_absolute_lifetime",
            "tests/security/test_identity.py::test_new_session_at_login",
            "tests/security/test_identity.py::test_logout_ends_the_session_on_the_server",
            "tests/workflow/auth/test_auth.py::test_login_rate_limit",
        ],
    ),
    "8.1.4.1 c": (
        "远程管理时鉴别信息不被窃听：HTTPS、HSTS、Secure Cookie (L3-CES1-03)",
        [
            "tests/security/test_holes.py::test_production_hsts_and_trusted_hosts",
            "tests/workflow/auth/test_auth.py::test_session_cookie_flags",
        ],
    ),
    "8.1.4.1 d": (
        "两种以上鉴别技术，其中一种为密码技术：口令 + TOTP 动态口令 (L3-CES1-04)",
        [
            "tests/security/test_identity.py::test_totp_matches_rfc6238_vectors",
            "tests/security/test_identity.py::test_password_alone_gives_no_session",
            "tests/security/test_identity.py::test_a_code_is_good_once",
            "tests/security/test_identity.py::test_enrolment_with_qr_and_recovery_codes",
            "tests/security/test_identity.py::test_unit_staff_policy",
            "tests/security/test_identity.py::test_totp_command_only_in_development",
        ],
    ),
    # 8.1.4.4 入侵防范
    "8.1.4.4 c": (
        "管理终端接入限制：只应答配置的主机名 (L3-CES1-19, 应用部分)",
        ["tests/security/test_holes.py::test_production_hsts_and_trusted_hosts"],
    ),
    "8.1.4.4 d": (
        "数据有效性检验：控制字符、整数范围、文件类型与配额 (L3-CES1-20)",
        [
            "tests/security/test_holes.py::test_control_characters_refused_everywhere",
            "tests/security/test_holes.py::test_huge_ids_are_404_not_500",
            "tests/security/test_holes.py::test_evidence_quota_of_files_and_bytes",
        ],
    ),
    "8.1.4.4 e": (
        "发现已知漏洞与恶意代码：佐证材料经 ClamAV 扫描 (L3-CES1-21)",
        ["tests/security/test_holes.py::test_eicar_refused_by_clamd"],
    ),
    # 8.1.4.10 剩余信息保护 (the application's part: nothing kept in caches)
    "8.1.4.10 a": (
        "鉴别信息所在存储空间被释放或重新分配前完全清除：登录页面与下载不缓存 (L3-CES1-32)",
        [
            "tests/security/test_holes.py::test_no_store_on_signed_in_pages_and_downloads",
            "tests/security/test_holes.py::test_repeated_character_secret_key_refused",
        ],
    ),
}


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


@pytest.mark.parametrize("item", sorted(CLAIMS))
def test_every_claimed_item_has_existing_tests(item: str) -> None:
    title, tests = CLAIMS[item]
    assert title and tests, f"{item} 已声明但没有测试"
    for ref in tests:
        file, _, name = ref.partition("::")
        path = ROOT / file
        assert path.is_file(), f"{item}: 找不到测试文件 {file}"
        assert name in _test_names(path), f"{item}: 找不到测试 {ref}"


def test_identity_items_a_to_d_are_all_claimed() -> None:
    assert {f"8.1.4.1 {x}" for x in "abcd"} <= set(CLAIMS)
