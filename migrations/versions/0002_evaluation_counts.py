"""evaluation counts per (department, cycle, state), kept by triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 20:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Frozen copies of workflow/models/counts.py's triggers as of this revision.
SQLITE_TRIGGERS = (
    'CREATE TRIGGER evaluation_counts_insert AFTER INSERT ON evaluations BEGIN INSERT INTO evaluation_counts (department_id, cycle_id, state, n) VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1; END',
    'CREATE TRIGGER evaluation_counts_delete AFTER DELETE ON evaluations BEGIN UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state; END',
    'CREATE TRIGGER evaluation_counts_update AFTER UPDATE OF department_id, cycle_id, state ON evaluations WHEN OLD.department_id IS NOT NEW.department_id OR OLD.cycle_id IS NOT NEW.cycle_id OR OLD.state IS NOT NEW.state BEGIN UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state; INSERT INTO evaluation_counts (department_id, cycle_id, state, n) VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1; END',
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION evaluation_counts_track() RETURNS trigger AS $$ BEGIN IF TG_OP = 'INSERT' THEN INSERT INTO evaluation_counts (department_id, cycle_id, state, n) VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1; ELSIF TG_OP = 'DELETE' THEN UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state; ELSIF (OLD.department_id, OLD.cycle_id, OLD.state) < (NEW.department_id, NEW.cycle_id, NEW.state) THEN UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state; INSERT INTO evaluation_counts (department_id, cycle_id, state, n) VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1; ELSE INSERT INTO evaluation_counts (department_id, cycle_id, state, n) VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1; UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state; END IF; RETURN NULL; END; $$ LANGUAGE plpgsql",
    'CREATE TRIGGER evaluation_counts_insert_delete AFTER INSERT OR DELETE ON evaluations FOR EACH ROW EXECUTE FUNCTION evaluation_counts_track()',
    'CREATE TRIGGER evaluation_counts_update AFTER UPDATE OF department_id, cycle_id, state ON evaluations FOR EACH ROW WHEN (OLD.department_id IS DISTINCT FROM NEW.department_id OR OLD.cycle_id IS DISTINCT FROM NEW.cycle_id OR OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION evaluation_counts_track()',
)


def upgrade():
    op.create_table('evaluation_counts',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_evaluation_counts_cycle_id_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['orgs.id'], name=op.f('fk_evaluation_counts_department_id_orgs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('department_id', 'cycle_id', 'state', name=op.f('pk_evaluation_counts'))
    )
    # The evaluations already there, then the triggers that keep the counts from now on, in
    # one transaction. On PostgreSQL the old web processes may still be writing: a change
    # neither in the snapshot the count reads nor seen by triggers not yet there would be
    # lost for good, so writes to evaluations wait until this migration commits. (SQLite
    # writers already wait for the migration's write lock.)
    # A later batch migration of evaluations on SQLite (render_as_batch copies the table)
    # drops its triggers with it: such a migration must create them again.
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("LOCK TABLE evaluations IN SHARE ROW EXCLUSIVE MODE")
    op.execute(
        "INSERT INTO evaluation_counts (department_id, cycle_id, state, n) "
        "SELECT department_id, cycle_id, state, count(*) FROM evaluations "
        "GROUP BY department_id, cycle_id, state"
    )
    for sql in {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS}.get(dialect, ()):
        op.execute(sql)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS evaluation_counts_{name}")
    elif dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS evaluation_counts_track() CASCADE")
    op.drop_table('evaluation_counts')
