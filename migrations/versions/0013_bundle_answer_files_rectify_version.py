"""the public bundle built by a worker (public_bundles, outbox kind public_bundle), files
attached to answers to evidence requests (recheck_answer_files), a version on 整改 items

Revision ID: 0013_bundle
Revises: 0012
Create Date: 2026-12-07 16:30:00

On SQLite the outbox's CHECK constraint is changed in the schema text, as 0008 did.
"""

from alembic import op
import sqlalchemy as sa


revision = '0013_bundle'
down_revision = '0012'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('pdf', 'notify', 'bulk_import')"
NEW_KINDS = "kind IN ('pdf', 'notify', 'bulk_import', 'public_bundle')"
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
    op.create_table('public_bundles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
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
    sa.CheckConstraint("state IN ('queued', 'building', 'ready', 'failed')", name=op.f('ck_public_bundles_state')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_public_bundles_cycle_id_cycles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_public_bundles_requested_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_bundles'))
    )
    with op.batch_alter_table('public_bundles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_bundles_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(
            'uq_public_bundles_active_cycle', ['cycle_id'], unique=True,
            sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE),
        )

    op.create_table('recheck_answer_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size >= 0', name=op.f('ck_recheck_answer_files_size')),
    sa.ForeignKeyConstraint(['item_id'], ['recheck_items.id'], name=op.f('fk_recheck_answer_files_item_id_recheck_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['recheck_requests.id'], name=op.f('fk_recheck_answer_files_request_id_recheck_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_recheck_answer_files_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recheck_answer_files')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_recheck_answer_files_stored_name'))
    )
    with op.batch_alter_table('recheck_answer_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_answer_files_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recheck_answer_files_request_id'), ['request_id'], unique=False)

    # Every existing 整改 item starts at version 1.
    op.add_column(
        'rectifications',
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    )
    _outbox_kinds(OLD_KINDS, NEW_KINDS)


def downgrade():
    op.execute("DELETE FROM outbox WHERE kind = 'public_bundle'")
    _outbox_kinds(NEW_KINDS, OLD_KINDS)
    with op.batch_alter_table('rectifications', schema=None) as batch_op:
        batch_op.drop_column('version')
    op.drop_table('recheck_answer_files')
    op.drop_table('public_bundles')
