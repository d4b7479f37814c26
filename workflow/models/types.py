"""Column types: SM4-GCM encrypted text for personal data (phone numbers, e-mail addresses)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from workflow.core import crypto


class EncryptedText(TypeDecorator[str]):
    """A text column stored as SM4-GCM ciphertext with its key id
    (``sm4gcm:<kid>:<base64>``), encrypted on the way in and decrypted on the way out, so
    that every reader (pages, the mail worker) sees the plain value and the database and its
    dumps never do. Empty strings stay empty (nothing to protect; NOT NULL columns keep
    their ``''`` default). The AAD is the table and column name."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.encrypt_field(str(value), self.context)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "":
            return value
        if crypto.field_key_id(value) is None:
            # Written before encryption (a database not yet migrated by 0006's data step).
            return str(value)
        return crypto.decrypt_field(value, self.context)


def mask_phone(value: str | None) -> str:
    """``13812348000`` -> ``138****8000``; short numbers keep their last two digits."""
    if not value:
        return ""
    if len(value) >= 7:
        return value[:3] + "****" + value[-4:]
    return "*" * (len(value) - 2) + value[-2:]


def mask_email(value: str | None) -> str:
    """``zhang.xiao@example.gov.cn`` -> ``z***@example.gov.cn``."""
    if not value:
        return ""
    local, at, domain = value.partition("@")
    if not at:
        return mask_phone(value)
    return (local[:1] or "*") + "***@" + domain
