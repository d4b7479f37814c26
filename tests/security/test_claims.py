"""The GB/T 22239-2019 §8.1.4 application items this system claims, each mapped to the tests
that prove it. A claimed item without a test, or naming a test that does not exist, fails.

(The identity items §8.1.4.1 and the intrusion items are added by the identity work; each
row names "file.py::test".)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent

CLAIMS: dict[str, tuple[str, list[str]]] = {
    "8.1.4.2 d 三员分立/最小权限 (L3-CES1-08)": (
        "三类管理员分工，管理员不兼任业务角色",
        [
            "security/test_three_admins.py::test_no_administrator_acts_in_a_business_role",
            "security/test_three_admins.py::test_each_administrator_has_its_own_pages",
            "security/test_three_admins.py::test_only_the_system_administrator_sees_evaluations",
            "workflow/test_access_matrix.py::test_matrix",
        ],
    ),
    "8.1.4.2 c/e 管理员账号与访问控制策略 (L3-CES1-07, -09)": (
        "管理员账号须两人（申请、批准）；重设密码须本人修改；无代登录",
        [
            "security/test_three_admins.py::test_nobody_creates_an_administrator_alone",
            "security/test_three_admins.py::test_a_reset_forces_a_change_and_names_both",
            "security/test_three_admins.py::test_an_administrator_cannot_log_in_as_another_user",
            "security/test_three_admins.py::test_the_security_administrator_changes_business_roles_only",
        ],
    ),
    "8.1.4.3 a 审计覆盖每个用户和重要事件 (L3-CES1-12)": (
        "安全事件日志：拒绝访问、管理操作、导出，与业务动作同一事务",
        [
            "security/test_audit_chain.py::test_a_refused_object_is_a_security_event",
            "security/test_audit_chain.py::test_a_failing_event_insert_rolls_the_action_back",
            "security/test_audit_chain.py::test_an_export_is_a_security_event",
            "security/test_three_admins.py::test_the_auditor_filters_and_exports_and_that_is_logged",
        ],
    ),
    "8.1.4.3 b 审计记录内容 (L3-CES1-13)": (
        "时间、用户、角色、IP、浏览器、对象、结果",
        ["security/test_audit_chain.py::test_a_refused_object_is_a_security_event"],
    ),
    "8.1.4.3 c 审计记录保护与留存 (L3-CES1-14)": (
        "只增不改（触发器）、HMAC-SM3 链、≥180 天保留与归档",
        [
            "security/test_audit_chain.py::test_the_database_refuses_update_and_delete",
            "security/test_audit_chain.py::test_an_edited_row_is_named",
            "security/test_audit_chain.py::test_a_deleted_row_is_found_at_the_next",
            "security/test_audit_chain.py::test_an_inserted_row_is_found",
            "security/test_audit_chain.py::test_concurrent_writers_keep_one_gap_free_chain",
            "security/test_audit_chain.py::test_archive_keeps_the_retention_and_the_chain",
        ],
    ),
    "8.1.4.3 d 审计进程保护 (L3-CES1-15)": (
        "只有审计管理员读审计；其查询与导出亦被审计",
        [
            "security/test_three_admins.py::test_each_administrator_has_its_own_pages",
            "security/test_three_admins.py::test_the_auditor_filters_and_exports_and_that_is_logged",
        ],
    ),
    "8.1.4.7 b 重要数据存储完整性 (L3-CES1-26)": (
        "确认结果 SM2 签章，页面、PDF、命令行核验",
        [
            "security/test_field_crypto.py::test_confirm_seals_and_the_page_shows_a_tampered_total",
            "security/test_field_crypto.py::test_a_changed_signed_snapshot_fails_the_signature",
            "security/test_field_crypto.py::test_the_pdf_prints_the_seal_and_its_code",
            "security/test_field_crypto.py::test_sm2_round_trip_and_a_changed_byte",
        ],
    ),
    "8.1.4.8 b 重要数据存储保密性 (L3-CES1-28)": (
        "手机号、电子邮箱 SM4-GCM 加密，密钥标识、轮换、掩码显示",
        [
            "security/test_field_crypto.py::test_known_answers",
            "security/test_field_crypto.py::test_field_cipher_binds_column_and_key",
            "security/test_field_crypto.py::test_the_database_holds_no_plaintext",
            "security/test_field_crypto.py::test_keys_rotate_reencrypts_every_value",
            "security/test_field_crypto.py::test_masked_where_the_full_value_is_not_needed",
            "security/test_field_crypto.py::test_production_refuses_the_development_keys",
        ],
    ),
}


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    }


@pytest.mark.parametrize("item", sorted(CLAIMS))
def test_every_claimed_item_has_tests_that_exist(item: str) -> None:
    _what, tests = CLAIMS[item]
    assert tests, f"{item} is claimed without a test"
    for ref in tests:
        file, _, name = ref.partition("::")
        path = TESTS / file
        assert path.is_file(), f"{item}: {file} does not exist"
        assert name in _defined(path), f"{item}: {ref} does not exist"
