"""bulk imports of published forms: bulk_imports, bulk_import_files, outbox kind bulk_import

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 13:30:00

On SQLite the outbox's CHECK constraint is changed in the schema text, as 0006 does for
users (the stored rows stay as they are).
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('pdf', 'notify')"
NEW_KINDS = "kind IN ('pdf', 'notify', 'bulk_import')"


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
    op.create_table('bulk_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("source IN ('web', 'cli')", name=op.f('ck_bulk_imports_source')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done')", name=op.f('ck_bulk_imports_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_bulk_imports_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_bulk_imports_cycle_id_cycles'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_imports'))
    )
    with op.batch_alter_table('bulk_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulk_imports_created_by_id'), ['created_by_id'], unique=False)

    op.create_table('bulk_import_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bulk_import_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('stored_cycle_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('rows', sa.JSON(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'done')", name=op.f('ck_bulk_import_files_status')),
    sa.ForeignKeyConstraint(['bulk_import_id'], ['bulk_imports.id'], name=op.f('fk_bulk_import_files_bulk_import_id_bulk_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['bulk_import_files.id'], name=op.f('fk_bulk_import_files_duplicate_of_id_bulk_import_files'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stored_cycle_id'], ['cycles.id'], name=op.f('fk_bulk_import_files_stored_cycle_id_cycles'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_import_files')),
    sa.UniqueConstraint('stored_cycle_id', 'sha256', name='uq_bulk_import_files_stored')
    )
    with op.batch_alter_table('bulk_import_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulk_import_files_bulk_import_id'), ['bulk_import_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulk_import_files_sha256'), ['sha256'], unique=False)

    _outbox_kinds(OLD_KINDS, NEW_KINDS)


def downgrade():
    op.execute("DELETE FROM outbox WHERE kind = 'bulk_import'")
    _outbox_kinds(NEW_KINDS, OLD_KINDS)
    op.drop_table('bulk_import_files')
    op.drop_table('bulk_imports')
