"""等保/密评: three administrators, security events, audit chain, SM4 fields, SM2 seals

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-03 17:50:00

- users: role 'admin' becomes 'sysadmin' (系统管理员); the roles 'secadmin' and 'auditor'
  are allowed; email and phone become text (SM4-GCM ciphertext).
- evaluations.phone becomes text (ciphertext).
- audit_log: seq and chain (HMAC-SM3 chain), computed here for the rows already there with
  the AUDIT_HMAC_KEY of the environment that runs the migration (the same as the app's).
- security_events (append-only, chained), admin_requests, evaluation_seals.
- existing e-mail addresses and phone numbers are encrypted with FIELD_KEYRING's active key.

On SQLite the CHECK constraint and the declared column types are changed in the schema text
(writable_schema, SQLite's documented way for changes that leave the stored rows as they are):
rebuilding users would need foreign keys off, which cannot be switched inside the migration's
transaction, and rebuilding evaluations would drop its counting triggers.
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD_ROLES = "'unit_staff', 'unit_head', 'reviewer', 'finance', 'admin'"
NEW_ROLES = "'unit_staff', 'unit_head', 'reviewer', 'finance', 'sysadmin', 'secadmin', 'auditor'"

# Frozen copies of the append-only triggers of this revision.
SQLITE_AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
SQLITE_SECURITY_TRIGGERS = (
    "CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END",
    "CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END",
)
POSTGRES_SECURITY_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION security_events_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'security_events is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER security_events_no_update BEFORE UPDATE OR DELETE ON security_events "
    "FOR EACH ROW EXECUTE FUNCTION security_events_append_only()",
    "CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only()",
)


def _sqlite_schema_edit(table, replacements):
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar()
    for old, new in replacements:
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


def _chain_existing_audit_rows(dialect):
    from workflow.core import chain
    from workflow.models import AuditLog

    bind = op.get_bind()
    table = AuditLog.__table__
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    prev = ""
    rows = bind.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    for seq, row in enumerate(rows, start=1):
        values = dict(row)
        values["seq"] = seq
        prev = chain.link(prev, table, values)
        bind.execute(table.update().where(table.c.id == row["id"]).values(seq=seq, chain=prev))
    if dialect == "sqlite":
        for sql in SQLITE_AUDIT_TRIGGERS:
            op.execute(sql)
    else:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")


def _reencrypt(decrypt=False):
    """Write every e-mail address and phone number back through the model's column type
    (encrypting plaintext), or, with ``decrypt``, as plain text again."""
    from workflow.models import Evaluation, User

    bind = op.get_bind()
    for table, columns in ((User.__table__, ("email", "phone")), (Evaluation.__table__, ("phone",))):
        rows = bind.execute(sa.select(table.c.id, *(table.c[c] for c in columns))).all()
        for row in rows:
            values = {c: getattr(row, c) for c in columns}
            if decrypt:
                sets = ", ".join(f"{c} = :{c}" for c in columns)
                bind.execute(sa.text(f"UPDATE {table.name} SET {sets} WHERE id = :id"), {**values, "id": row.id})
            else:
                bind.execute(table.update().where(table.c.id == row.id).values(**values))


def upgrade():
    dialect = op.get_bind().dialect.name
    # --- users: roles, forced change, personal data as ciphertext -----------------------------
    # must_change_password comes with 0005 (identity).
    if dialect == "sqlite":
        _sqlite_schema_edit("users", [
            (f"CHECK (role IN ({OLD_ROLES}))", f"CHECK (role IN ({NEW_ROLES}))"),
            ("email VARCHAR(200)", "email TEXT"),
            ("phone VARCHAR(50)", "phone TEXT"),
        ])
        _sqlite_schema_edit("evaluations", [("phone VARCHAR(50) NOT NULL", "phone TEXT NOT NULL")])
    else:
        op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
        op.alter_column('users', 'email', type_=sa.Text(), existing_nullable=True)
        op.alter_column('users', 'phone', type_=sa.Text(), existing_nullable=True)
        op.alter_column('evaluations', 'phone', type_=sa.Text(), existing_nullable=False)
    op.execute("UPDATE users SET role = 'sysadmin' WHERE role = 'admin'")
    if dialect != "sqlite":
        op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IN ({NEW_ROLES})")

    # --- audit_log: the chain ------------------------------------------------------------------
    op.add_column('audit_log', sa.Column('seq', sa.BigInteger(), nullable=False, server_default='0'))
    op.add_column('audit_log', sa.Column('chain', sa.String(length=64), nullable=False, server_default=''))
    _chain_existing_audit_rows(dialect)
    op.create_index(op.f('ix_audit_log_seq'), 'audit_log', ['seq'], unique=True)

    # --- new tables ----------------------------------------------------------------------------
    op.create_table('security_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('object', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('chain', sa.String(length=64), nullable=False),
    sa.CheckConstraint("outcome IN ('success', 'failure', 'denied')", name=op.f('ck_security_events_outcome')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_events_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events'))
    )
    op.create_index(op.f('ix_security_events_created_at'), 'security_events', ['created_at'], unique=False)
    op.create_index(op.f('ix_security_events_kind'), 'security_events', ['kind'], unique=False)
    op.create_index(op.f('ix_security_events_username'), 'security_events', ['username'], unique=False)
    op.create_index(op.f('ix_security_events_seq'), 'security_events', ['seq'], unique=True)
    for sql in {"sqlite": SQLITE_SECURITY_TRIGGERS, "postgresql": POSTGRES_SECURITY_TRIGGERS}.get(dialect, ()):
        op.execute(sql)
    op.create_table('admin_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_admin_requests_status')),
    sa.CheckConstraint('decided_by_id IS NULL OR decided_by_id <> requested_by_id', name=op.f('ck_admin_requests_two')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_admin_requests_decided_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_admin_requests_org_id_orgs'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_admin_requests_requested_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_admin_requests_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_requests'))
    )
    op.create_table('evaluation_seals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_evaluation_seals_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_seals'))
    )
    op.create_index(op.f('ix_evaluation_seals_evaluation_id'), 'evaluation_seals', ['evaluation_id'], unique=False)

    # --- personal data encrypted at rest ---------------------------------------------------------
    _reencrypt()


def downgrade():
    dialect = op.get_bind().dialect.name
    _reencrypt(decrypt=True)
    op.drop_index(op.f('ix_evaluation_seals_evaluation_id'), table_name='evaluation_seals')
    op.drop_table('evaluation_seals')
    op.drop_table('admin_requests')
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS security_events_append_only() CASCADE")
    op.drop_table('security_events')
    op.drop_index(op.f('ix_audit_log_seq'), table_name='audit_log')
    if dialect == "postgresql":
        op.drop_column('audit_log', 'chain')
        op.drop_column('audit_log', 'seq')
    else:
        # SQLite's DROP COLUMN rewrites the table, which the append-only triggers refuse.
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute("ALTER TABLE audit_log DROP COLUMN chain")
        op.execute("ALTER TABLE audit_log DROP COLUMN seq")
        for sql in SQLITE_AUDIT_TRIGGERS:
            op.execute(sql)
    # Three administrators become the one of before. (SQLite checks the constraint on writes
    # only: the schema text changes first, then the rows.)
    if dialect == "sqlite":
        _sqlite_schema_edit("users", [
            (f"CHECK (role IN ({NEW_ROLES}))", f"CHECK (role IN ({OLD_ROLES}))"),
            ("email TEXT", "email VARCHAR(200)"),
            ("phone TEXT", "phone VARCHAR(50)"),
        ])
        _sqlite_schema_edit("evaluations", [("phone TEXT NOT NULL", "phone VARCHAR(50) NOT NULL")])
        op.execute("UPDATE users SET role = 'admin' WHERE role IN ('sysadmin', 'secadmin', 'auditor')")
    else:
        op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
        op.execute("UPDATE users SET role = 'admin' WHERE role IN ('sysadmin', 'secadmin', 'auditor')")
        op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IN ({OLD_ROLES})")
        op.alter_column('users', 'email', type_=sa.String(length=200), existing_nullable=True)
        op.alter_column('users', 'phone', type_=sa.String(length=50), existing_nullable=True)
        op.alter_column('evaluations', 'phone', type_=sa.String(length=50), existing_nullable=False)
