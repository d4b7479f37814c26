"""The GB/T 22239-2019 §8.1.4 application items this system claims, each mapped to the
tests that prove it (GB/T 28448-2019 test ids in brackets). A claimed item without a test,
or a test named here that does not exist, fails this file."""

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
            "tests/e2e/test_security_browser.py::test_enrol_lock_unlock_reset_and_forced_change",
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
        [
            "tests/security/test_holes.py::test_eicar_refused_by_clamd",
            "tests/security/test_holes.py::test_clamd_is_started_by_make_run_and_by_compose",
        ],
    ),
    # 8.1.4.10 剩余信息保护 (the application's part: nothing kept in caches)
    "8.1.4.10 a": (
        "鉴别信息所在存储空间被释放或重新分配前完全清除：登录页面与下载不缓存 (L3-CES1-32)",
        [
            "tests/security/test_holes.py::test_no_store_on_signed_in_pages_and_downloads",
            "tests/security/test_holes.py::test_repeated_character_secret_key_refused",
        ],
    ),
    # 访问控制, 安全审计, 数据完整性与保密性 (issue 14 §2–§5)
    "8.1.4.2 d 三员分立/最小权限 (L3-CES1-08)": (
        "三类管理员分工，管理员不兼任业务角色",
        [
            "tests/security/test_three_admins.py::test_no_administrator_acts_in_a_business_role",
            "tests/security/test_three_admins.py::test_each_administrator_has_its_own_pages",
            "tests/security/test_three_admins.py::test_only_the_system_administrator_sees_evaluations",
            "tests/workflow/test_access_matrix.py::test_matrix",
        ],
    ),
    "8.1.4.2 c/e 管理员账号与访问控制策略 (L3-CES1-07, -09)": (
        "管理员账号须两人（申请、批准）；重设密码须本人修改；无代登录",
        [
            "tests/security/test_three_admins.py::test_nobody_creates_an_administrator_alone",
            "tests/security/test_three_admins.py::test_a_reset_forces_a_change_and_names_both",
            "tests/security/test_three_admins.py::test_an_administrator_cannot_log_in_as_another_user",
            "tests/security/test_three_admins.py::test_the_security_administrator_changes_business_roles_only",
            "tests/e2e/test_security_browser.py::test_second_administrator_approves",
        ],
    ),
    "8.1.4.3 a 审计覆盖每个用户和重要事件 (L3-CES1-12)": (
        "安全事件日志：拒绝访问、管理操作、导出，与业务动作同一事务",
        [
            "tests/security/test_audit_chain.py::test_a_refused_object_is_a_security_event",
            "tests/security/test_audit_chain.py::test_a_failing_event_insert_rolls_the_action_back",
            "tests/security/test_audit_chain.py::test_an_export_is_a_security_event",
            "tests/security/test_three_admins.py::test_the_auditor_filters_and_exports_and_that_is_logged",
            "tests/security/test_security_events.py::test_every_kind_is_written_by_its_action",
            "tests/security/test_security_events.py::test_every_file_that_leaves_is_logged_once",
            "tests/security/test_security_events.py::test_the_viewer_has_a_label_for_every_kind_written",
        ],
    ),
    "8.1.4.3 b 审计记录内容 (L3-CES1-13)": (
        "时间、用户、角色、IP、浏览器、对象、结果",
        [
            "tests/security/test_audit_chain.py::test_a_refused_object_is_a_security_event",
            "tests/security/test_security_events.py::test_every_kind_is_written_by_its_action",
        ],
    ),
    "8.1.4.3 c 审计记录保护与留存 (L3-CES1-14)": (
        "只增不改（触发器）、HMAC-SM3 链、≥180 天保留与归档",
        [
            "tests/security/test_audit_chain.py::test_the_database_refuses_update_and_delete",
            "tests/security/test_audit_chain.py::test_an_edited_row_is_named",
            "tests/security/test_audit_chain.py::test_a_deleted_row_is_found_at_the_next",
            "tests/security/test_audit_chain.py::test_an_inserted_row_is_found",
            "tests/security/test_audit_chain.py::test_concurrent_writers_keep_one_gap_free_chain",
            "tests/security/test_audit_chain.py::test_archive_keeps_the_retention_and_the_chain",
        ],
    ),
    "8.1.4.3 d 审计进程保护 (L3-CES1-15)": (
        "只有审计管理员读审计；其查询与导出亦被审计",
        [
            "tests/security/test_three_admins.py::test_each_administrator_has_its_own_pages",
            "tests/security/test_three_admins.py::test_the_auditor_filters_and_exports_and_that_is_logged",
        ],
    ),
    "8.1.4.7 b 重要数据存储完整性 (L3-CES1-26)": (
        "确认结果 SM2 签章，页面、PDF、命令行核验",
        [
            "tests/security/test_field_crypto.py::test_confirm_seals_and_the_page_shows_a_tampered_total",
            "tests/security/test_field_crypto.py::test_a_changed_signed_snapshot_fails_the_signature",
            "tests/security/test_field_crypto.py::test_the_pdf_prints_the_seal_and_its_code",
            "tests/security/test_field_crypto.py::test_sm2_round_trip_and_a_changed_byte",
        ],
    ),
    "8.1.4.8 b 重要数据存储保密性 (L3-CES1-28)": (
        "手机号、电子邮箱 SM4-GCM 加密，密钥标识、轮换、掩码显示",
        [
            "tests/security/test_field_crypto.py::test_known_answers",
            "tests/security/test_field_crypto.py::test_field_cipher_binds_column_and_key",
            "tests/security/test_field_crypto.py::test_the_database_holds_no_plaintext",
            "tests/security/test_field_crypto.py::test_keys_rotate_reencrypts_every_value",
            "tests/security/test_field_crypto.py::test_masked_where_the_full_value_is_not_needed",
            "tests/security/test_field_crypto.py::test_production_refuses_the_development_keys",
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
