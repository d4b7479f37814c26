"""org_generation: how many times the organisations changed, kept by triggers on orgs

Revision ID: 0015_org_generation
Revises: 0014_sheets_zip
Create Date: 2026-12-07 20:00:00

Web processes keep the list filter's units per process and read this number with the
signed-in user to know whether that is still true (workflow/models/org.py).
"""

from alembic import op
import sqlalchemy as sa


revision = '0015_org_generation'
down_revision = '0014_sheets_zip'
branch_labels = None
depends_on = None

# Frozen copies of workflow/models/org.py's triggers as of this revision.
BUMP = 'UPDATE org_generation SET n = n + 1 WHERE id = 1;'
SQLITE_TRIGGERS = tuple(
    f'CREATE TRIGGER org_generation_{op_.lower()} AFTER {op_} ON orgs BEGIN {BUMP} END'
    for op_ in ('INSERT', 'UPDATE', 'DELETE')
)
POSTGRES_TRIGGERS = (
    f'CREATE OR REPLACE FUNCTION org_generation_bump() RETURNS trigger AS $$ BEGIN {BUMP} RETURN NULL; END; $$ LANGUAGE plpgsql',
    'CREATE TRIGGER org_generation_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON orgs FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()',
)


def upgrade():
    op.create_table('org_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_generation'))
    )
    op.execute('INSERT INTO org_generation (id, n) VALUES (1, 0)')
    dialect = op.get_bind().dialect.name
    for sql in {'sqlite': SQLITE_TRIGGERS, 'postgresql': POSTGRES_TRIGGERS}.get(dialect, ()):
        op.execute(sql)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS org_generation_bump ON orgs')
        op.execute('DROP FUNCTION IF EXISTS org_generation_bump()')
    elif dialect == 'sqlite':
        for op_ in ('insert', 'update', 'delete'):
            op.execute(f'DROP TRIGGER IF EXISTS org_generation_{op_}')
    op.drop_table('org_generation')
