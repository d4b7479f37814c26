"""the outbox row is the truth: handed_out_at (was dispatched_at) and done_at

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-03 17:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_dispatched_at'))
        batch_op.alter_column('dispatched_at', new_column_name='handed_out_at')
        batch_op.add_column(sa.Column('done_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_handed_out_at'), ['handed_out_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_done_at'), ['done_at'], unique=False)
    # Rows dispatched before this revision were, as far as anyone knows, done: the relay
    # must not hand all of history out again.
    op.execute('UPDATE outbox SET done_at = handed_out_at WHERE handed_out_at IS NOT NULL')


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_done_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_handed_out_at'))
        batch_op.drop_column('done_at')
        batch_op.alter_column('handed_out_at', new_column_name='dispatched_at')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_dispatched_at'), ['dispatched_at'], unique=False)
