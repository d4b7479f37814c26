"""密评 8.4 e: the TOTP secrets encrypted at rest (SM4-GCM), like phones and e-mails

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 13:20:00

users.totp_secret becomes text holding `sm4gcm:<key id>:<base64>` (the column type
EncryptedText, AAD users.totp_secret), and every secret already there is encrypted with
FIELD_KEYRING's active key. A secret is what a second factor proves possession of: kept in
clear, anyone who reads the table or a dump could compute every account's codes.

On SQLite the declared type is changed in the schema text (writable_schema), as 0006 did for
the e-mail and phone columns: rebuilding users would need foreign keys off, which cannot be
switched inside the migration's transaction.
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def _sqlite_schema_edit(table, old, new):
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar()
    if old not in sql:
        raise RuntimeError(f"{table}: expected {old!r} in its schema")
    sql = sql.replace(old, new)
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _rewrite(encrypt):
    """Every secret through the cipher of the app (workflow.core.crypto), or back to plain."""
    from workflow.core import crypto

    bind = op.get_bind()
    rows = bind.exec_driver_sql(
        "SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL AND totp_secret <> ''"
    ).all()
    for user_id, value in rows:
        stored = crypto.field_key_id(value) is not None
        if encrypt and not stored:
            value = crypto.encrypt_field(value, "users.totp_secret")
        elif not encrypt and stored:
            value = crypto.decrypt_field(value, "users.totp_secret")
        else:
            continue
        bind.execute(
            sa.text("UPDATE users SET totp_secret = :v WHERE id = :id"), {"v": value, "id": user_id}
        )


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_schema_edit("users", "totp_secret VARCHAR(64)", "totp_secret TEXT")
    else:
        op.alter_column("users", "totp_secret", type_=sa.Text(), existing_nullable=True)
    _rewrite(encrypt=True)


def downgrade():
    _rewrite(encrypt=False)
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_schema_edit("users", "totp_secret TEXT", "totp_secret VARCHAR(64)")
    else:
        op.alter_column("users", "totp_secret", type_=sa.String(length=64), existing_nullable=True)
