"""the ZIP of 自评表 sheets built by the bulk worker (sheets_zips, outbox kind sheets_zip)

Revision ID: 0014_sheets_zip
Revises: 0013_bundle
Create Date: 2026-12-07 17:00:00

On SQLite the outbox's CHECK constraint is changed in the schema text, as 0008 and 0013 did.
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_sheets_zip'
down_revision = '0013_bundle'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('pdf', 'notify', 'bulk_import', 'public_bundle')"
NEW_KINDS = "kind IN ('pdf', 'notify', 'bulk_import', 'public_bundle', 'sheets_zip')"
ACTIVE = "state IN ('queued', 'building')"


def _outbox_kinds(old, new):
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
        ).scalar()
        if old not in sql:
            raise RuntimeError(f"outbox: expected {old!r} in its schema")
        version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
        bind.exec_driver_sql("PRAGMA writable_schema = ON")
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'outbox'",
            (sql.replace(old, new),),
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    else:
        op.drop_constraint(op.f('ck_outbox_kind'), 'outbox', type_='check')
        op.create_check_constraint(op.f('ck_outbox_kind'), 'outbox', new)


def upgrade():
    op.create_table('sheets_zips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('evaluation_ids', sa.JSON(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('forms', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('path', sa.String(length=300), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'building', 'ready', 'failed')", name=op.f('ck_sheets_zips_state')),
    sa.CheckConstraint("scope IN ('department', 'all')", name=op.f('ck_sheets_zips_scope')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_sheets_zips_cycle_id_cycles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['department_id'], ['orgs.id'], name=op.f('fk_sheets_zips_department_id_orgs'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_sheets_zips_requested_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sheets_zips'))
    )
    with op.batch_alter_table('sheets_zips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sheets_zips_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(
            'uq_sheets_zips_active_user', ['requested_by_id'], unique=True,
            sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE),
        )
    _outbox_kinds(OLD_KINDS, NEW_KINDS)


def downgrade():
    op.execute("DELETE FROM outbox WHERE kind = 'sheets_zip'")
    _outbox_kinds(NEW_KINDS, OLD_KINDS)
    op.drop_table('sheets_zips')
