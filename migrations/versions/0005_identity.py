"""identity: case-insensitive usernames, password age and history, lockout, TOTP

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-03 18:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    conn = op.get_bind()
    # A unique index on lower(username) cannot be built over names that differ only in case;
    # say which instead of failing with the database's message.
    dupes = conn.execute(
        sa.text("SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1")
    ).scalars().all()
    if dupes:
        raise RuntimeError(
            "用户名仅大小写不同的账号须先合并或改名：" + ", ".join(sorted(dupes))
        )
    # Plain ADD COLUMN on both databases: a batch (copy-and-rename) of users on SQLite would
    # drop a table every other table refers to. The server defaults fill the rows there are.
    op.add_column('users', sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('users', sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('users', sa.Column('totp_failures', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('users', sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('totp_secret', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.add_column('users', sa.Column('recovery_codes', sa.JSON(), nullable=True))
    op.create_index('uq_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)
    # Passwords set before this revision were never checked against the policy: each
    # existing account chooses a new one at its next login.
    conn.execute(
        sa.text("UPDATE users SET must_change_password = :t, password_changed_at = created_at"),
        {"t": True},
    )

    op.create_table(
        'password_history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('password_hash', sa.String(length=256), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_history_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_history_user_id'))
    op.drop_table('password_history')
    op.drop_index('uq_users_username_lower', table_name='users')
    for name in (
        'recovery_codes', 'totp_last_step', 'totp_enabled_at', 'totp_secret',
        'locked_until', 'totp_failures', 'failed_logins', 'must_change_password',
        'password_changed_at',
    ):
        op.drop_column('users', name)
