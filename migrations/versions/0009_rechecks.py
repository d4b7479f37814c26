"""抽查复核 and 结果应用: re-check batches and items, the 复核 column, evidence requests,
risk facts, budget advice, 整改 items; the role 'expert' (复核专家)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:55:48

On SQLite the users' role CHECK is changed in the schema text, as 0006 did (rebuilding users
would need foreign keys off, which cannot be switched inside the migration's transaction).
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OLD_ROLES = "'unit_staff', 'unit_head', 'reviewer', 'finance', 'sysadmin', 'secadmin', 'auditor'"
NEW_ROLES = OLD_ROLES + ", 'expert'"


def _sqlite_schema_edit(table, old, new):
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar()
    if old not in sql:
        raise RuntimeError(f"{table}: expected {old!r} in its schema")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
        (sql.replace(old, new), table),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _roles(old, new):
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_schema_edit("users", f"CHECK (role IN ({old}))", f"CHECK (role IN ({new}))")
    else:
        op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
        op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IN ({new})")


def upgrade():
    _roles(OLD_ROLES, NEW_ROLES)
    op.create_table('recheck_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('rate', sa.Numeric(precision=5, scale=4), nullable=True),
    sa.Column('sample_count', sa.Integer(), nullable=True),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("method IN ('uniform', 'department', 'grade', 'risk')", name=op.f('ck_recheck_batches_method')),
    sa.CheckConstraint('(rate IS NULL) <> (sample_count IS NULL)', name=op.f('ck_recheck_batches_rate_or_count')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_recheck_batches_created_by_id_users')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_recheck_batches_cycle_id_cycles'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recheck_batches'))
    )
    with op.batch_alter_table('recheck_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_batches_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('budget_advice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('advice', sa.String(length=20), nullable=False),
    sa.Column('cut_share', sa.Numeric(precision=5, scale=4), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("advice IN ('prioritise', 'keep', 'cut', 'suspend')", name=op.f('ck_budget_advice_advice')),
    sa.CheckConstraint('cut_share IS NULL OR (cut_share >= 0 AND cut_share <= 1)', name=op.f('ck_budget_advice_share')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_budget_advice_cycle_id_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_budget_advice_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_budget_advice_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_advice')),
    sa.UniqueConstraint('evaluation_id', name='uq_budget_advice_evaluation')
    )
    with op.batch_alter_table('budget_advice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_budget_advice_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('recheck_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rechecker_id', sa.Integer(), nullable=True),
    sa.Column('risks', sa.JSON(), nullable=False),
    sa.Column('recheck_total', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('recheck_grade', sa.String(length=4), nullable=True),
    sa.Column('conclusion', sa.Text(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('assigned', 'checking', 'awaiting_evidence', 'done')", name=op.f('ck_recheck_items_state')),
    sa.CheckConstraint('recheck_total IS NULL OR (recheck_total >= 0 AND recheck_total <= 100)', name=op.f('ck_recheck_items_recheck_total')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_recheck_items_version')),
    sa.ForeignKeyConstraint(['batch_id'], ['recheck_batches.id'], name=op.f('fk_recheck_items_batch_id_recheck_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['orgs.id'], name=op.f('fk_recheck_items_department_id_orgs'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_recheck_items_evaluation_id_evaluations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['rechecker_id'], ['users.id'], name=op.f('fk_recheck_items_rechecker_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['orgs.id'], name=op.f('fk_recheck_items_unit_id_orgs'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recheck_items')),
    sa.UniqueConstraint('batch_id', 'evaluation_id', name='uq_recheck_items_batch_evaluation')
    )
    with op.batch_alter_table('recheck_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_items_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recheck_items_evaluation_id'), ['evaluation_id'], unique=False)
        batch_op.create_index('ix_recheck_items_rechecker_state', ['rechecker_id', 'state'], unique=False)

    op.create_table('rectifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('measure', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('closing_note', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_reminded_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'closed')", name=op.f('ck_rectifications_state')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_rectifications_cycle_id_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['orgs.id'], name=op.f('fk_rectifications_department_id_orgs'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_rectifications_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_rectifications_owner_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['orgs.id'], name=op.f('fk_rectifications_unit_id_orgs'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectifications'))
    )
    with op.batch_alter_table('rectifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectifications_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectifications_evaluation_id'), ['evaluation_id'], unique=False)
        batch_op.create_index('ix_rectifications_state_due', ['state', 'due_on'], unique=False)

    op.create_table('risk_facts',
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_version', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('self_total', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('self_grade', sa.String(length=4), nullable=True),
    sa.Column('dept_total', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('execution_rate', sa.Numeric(precision=9, scale=4), nullable=True),
    sa.Column('qualitative_rows', sa.Integer(), nullable=False),
    sa.Column('qualitative_full', sa.Integer(), nullable=False),
    sa.Column('shortfall_full', sa.Integer(), nullable=False),
    sa.Column('over_no_reason', sa.Numeric(precision=9, scale=4), nullable=True),
    sa.Column('tier_mismatch', sa.Integer(), nullable=False),
    sa.Column('adjusted_on', sa.Date(), nullable=True),
    sa.Column('adjusted_month', sa.Integer(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_risk_facts_cycle_id_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_risk_facts_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('evaluation_id', name=op.f('pk_risk_facts'))
    )
    with op.batch_alter_table('risk_facts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_facts_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('recheck_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('asked_by_id', sa.Integer(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_recheck_requests_answered_by_id_users')),
    sa.ForeignKeyConstraint(['asked_by_id'], ['users.id'], name=op.f('fk_recheck_requests_asked_by_id_users')),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_recheck_requests_evaluation_id_evaluations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['item_id'], ['recheck_items.id'], name=op.f('fk_recheck_requests_item_id_recheck_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recheck_requests'))
    )
    with op.batch_alter_table('recheck_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_requests_evaluation_id'), ['evaluation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recheck_requests_item_id'), ['item_id'], unique=False)

    op.create_table('recheck_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('score', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.CheckConstraint('score IS NULL OR score >= 0', name=op.f('ck_recheck_scores_score')),
    sa.ForeignKeyConstraint(['item_id'], ['recheck_items.id'], name=op.f('fk_recheck_scores_item_id_recheck_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recheck_scores')),
    sa.UniqueConstraint('item_id', 'code', name='uq_recheck_scores_item_code')
    )
    with op.batch_alter_table('recheck_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_scores_item_id'), ['item_id'], unique=False)



def downgrade():
    op.execute("DELETE FROM users WHERE role = 'expert'")
    with op.batch_alter_table('recheck_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_scores_item_id'))

    op.drop_table('recheck_scores')
    with op.batch_alter_table('recheck_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_requests_item_id'))
        batch_op.drop_index(batch_op.f('ix_recheck_requests_evaluation_id'))

    op.drop_table('recheck_requests')
    with op.batch_alter_table('risk_facts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_facts_cycle_id'))

    op.drop_table('risk_facts')
    with op.batch_alter_table('rectifications', schema=None) as batch_op:
        batch_op.drop_index('ix_rectifications_state_due')
        batch_op.drop_index(batch_op.f('ix_rectifications_evaluation_id'))
        batch_op.drop_index(batch_op.f('ix_rectifications_cycle_id'))

    op.drop_table('rectifications')
    with op.batch_alter_table('recheck_items', schema=None) as batch_op:
        batch_op.drop_index('ix_recheck_items_rechecker_state')
        batch_op.drop_index(batch_op.f('ix_recheck_items_evaluation_id'))
        batch_op.drop_index(batch_op.f('ix_recheck_items_batch_id'))

    op.drop_table('recheck_items')
    with op.batch_alter_table('budget_advice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_budget_advice_cycle_id'))

    op.drop_table('budget_advice')
    with op.batch_alter_table('recheck_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_batches_cycle_id'))

    op.drop_table('recheck_batches')
    _roles(NEW_ROLES, OLD_ROLES)
