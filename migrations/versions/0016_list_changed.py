"""evaluation_counts.changed: each list group's generation, raised by triggers

Revision ID: 0016_list_changed
Revises: 0015_org_generation
Create Date: 2026-12-07 23:00:00

Web processes keep a list page's rows per process under the generations of the (department,
cycle, state) groups the page shows, read with the group counts (workflow/models/counts.py).
"""

from alembic import op
import sqlalchemy as sa


revision = '0016_list_changed'
down_revision = '0015_org_generation'
branch_labels = None
depends_on = None

# Frozen copies of workflow/models/counts.py's triggers as of this revision.
ADD_NEW = (
    "INSERT INTO evaluation_counts (department_id, cycle_id, state, n, changed) "
    "VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1, 1) "
    "ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1, "
    "changed = evaluation_counts.changed + 1;"
)
REMOVE_OLD = (
    "UPDATE evaluation_counts SET n = n - 1, changed = changed + 1 "
    "WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state;"
)
TOUCH_NEW = (
    "UPDATE evaluation_counts SET changed = changed + 1 WHERE department_id = NEW.department_id "
    "AND cycle_id = NEW.cycle_id AND state = NEW.state;"
)
TOUCH_EVALUATION = (
    "UPDATE evaluation_counts SET changed = changed + 1 WHERE EXISTS (SELECT 1 FROM evaluations "
    "e WHERE e.id = {row}.evaluation_id AND e.department_id = evaluation_counts.department_id "
    "AND e.cycle_id = evaluation_counts.cycle_id AND e.state = evaluation_counts.state);"
)
TOUCH_PROJECT = (
    "UPDATE evaluation_counts SET changed = changed + 1 WHERE EXISTS (SELECT 1 FROM evaluations "
    "e WHERE e.project_id = NEW.id AND e.department_id = evaluation_counts.department_id "
    "AND e.cycle_id = evaluation_counts.cycle_id AND e.state = evaluation_counts.state);"
)
TOUCH_CYCLE = "UPDATE evaluation_counts SET changed = changed + 1 WHERE cycle_id = NEW.id;"
MOVED_SQLITE = (
    "OLD.department_id IS NOT NEW.department_id OR OLD.cycle_id IS NOT NEW.cycle_id "
    "OR OLD.state IS NOT NEW.state"
)
MOVED_PG = (
    "OLD.department_id IS DISTINCT FROM NEW.department_id "
    "OR OLD.cycle_id IS DISTINCT FROM NEW.cycle_id OR OLD.state IS DISTINCT FROM NEW.state"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER evaluation_counts_insert AFTER INSERT ON evaluations BEGIN {ADD_NEW} END",
    f"CREATE TRIGGER evaluation_counts_delete AFTER DELETE ON evaluations BEGIN {REMOVE_OLD} END",
    "CREATE TRIGGER evaluation_counts_update AFTER UPDATE OF department_id, cycle_id, state "
    f"ON evaluations WHEN {MOVED_SQLITE} BEGIN {REMOVE_OLD} {ADD_NEW} END",
    f"CREATE TRIGGER evaluation_counts_touch AFTER UPDATE ON evaluations WHEN NOT ({MOVED_SQLITE}) "
    f"AND NEW.state <> 'draft' BEGIN {TOUCH_NEW} END",
    *(
        f"CREATE TRIGGER evaluation_counts_risk_{op_.lower()} AFTER {op_} ON risk_facts BEGIN "
        f"{TOUCH_EVALUATION.format(row=row)} END"
        for op_, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    f"CREATE TRIGGER evaluation_counts_project AFTER UPDATE OF name ON projects BEGIN {TOUCH_PROJECT} END",
    f"CREATE TRIGGER evaluation_counts_cycle AFTER UPDATE OF name ON cycles BEGIN {TOUCH_CYCLE} END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION evaluation_counts_track() RETURNS trigger AS $$ BEGIN "
    f"IF TG_OP = 'INSERT' THEN {ADD_NEW} "
    f"ELSIF TG_OP = 'DELETE' THEN {REMOVE_OLD} "
    "ELSIF (OLD.department_id, OLD.cycle_id, OLD.state) "
    f"< (NEW.department_id, NEW.cycle_id, NEW.state) THEN {REMOVE_OLD} {ADD_NEW} "
    f"ELSE {ADD_NEW} {REMOVE_OLD} "
    "END IF; RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE FUNCTION evaluation_counts_touch() RETURNS trigger AS $$ BEGIN "
    f"IF TG_TABLE_NAME = 'evaluations' THEN {TOUCH_NEW} "
    f"ELSIF TG_TABLE_NAME = 'projects' THEN {TOUCH_PROJECT} "
    f"ELSIF TG_TABLE_NAME = 'cycles' THEN {TOUCH_CYCLE} "
    f"ELSIF TG_OP = 'DELETE' THEN {TOUCH_EVALUATION.format(row='OLD')} "
    f"ELSE {TOUCH_EVALUATION.format(row='NEW')} "
    "END IF; RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER evaluation_counts_touch AFTER UPDATE ON evaluations FOR EACH ROW "
    f"WHEN (NOT ({MOVED_PG}) AND NEW.state <> 'draft') EXECUTE FUNCTION evaluation_counts_touch()",
    "CREATE TRIGGER evaluation_counts_risk AFTER INSERT OR UPDATE OR DELETE ON risk_facts "
    "FOR EACH ROW EXECUTE FUNCTION evaluation_counts_touch()",
    "CREATE TRIGGER evaluation_counts_project AFTER UPDATE OF name ON projects FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION evaluation_counts_touch()",
    "CREATE TRIGGER evaluation_counts_cycle AFTER UPDATE OF name ON cycles FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION evaluation_counts_touch()",
)
NEW_SQLITE = ("evaluation_counts_touch", "evaluation_counts_risk_insert",
              "evaluation_counts_risk_update", "evaluation_counts_risk_delete",
              "evaluation_counts_project", "evaluation_counts_cycle")
OLD_SQLITE = ("evaluation_counts_insert", "evaluation_counts_delete", "evaluation_counts_update")


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # Writes to evaluations wait until this commits: no change falls between the old
        # triggers and the new.
        op.execute("LOCK TABLE evaluations IN SHARE ROW EXCLUSIVE MODE")
    op.add_column('evaluation_counts', sa.Column('changed', sa.Integer(), server_default='0', nullable=False))
    if dialect == "sqlite":
        for name in OLD_SQLITE:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)
    elif dialect == "postgresql":
        # The two triggers of revision 0002 stay; their function gains the generation.
        for sql in POSTGRES_TRIGGERS:
            op.execute(sql)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in NEW_SQLITE + OLD_SQLITE:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS evaluation_counts_touch ON evaluations")
        op.execute("DROP TRIGGER IF EXISTS evaluation_counts_risk ON risk_facts")
        op.execute("DROP TRIGGER IF EXISTS evaluation_counts_project ON projects")
        op.execute("DROP TRIGGER IF EXISTS evaluation_counts_cycle ON cycles")
        op.execute("DROP FUNCTION IF EXISTS evaluation_counts_touch()")
    with op.batch_alter_table('evaluation_counts') as batch:
        batch.drop_column('changed')
    # The triggers of revision 0002, as they were.
    n_new = "INSERT INTO evaluation_counts (department_id, cycle_id, state, n) VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1;"
    n_old = "UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state;"
    if dialect == "sqlite":
        op.execute(f"CREATE TRIGGER evaluation_counts_insert AFTER INSERT ON evaluations BEGIN {n_new} END")
        op.execute(f"CREATE TRIGGER evaluation_counts_delete AFTER DELETE ON evaluations BEGIN {n_old} END")
        op.execute(
            "CREATE TRIGGER evaluation_counts_update AFTER UPDATE OF department_id, cycle_id, state "
            f"ON evaluations WHEN {MOVED_SQLITE} BEGIN {n_old} {n_new} END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION evaluation_counts_track() RETURNS trigger AS $$ BEGIN "
            f"IF TG_OP = 'INSERT' THEN {n_new} ELSIF TG_OP = 'DELETE' THEN {n_old} "
            "ELSIF (OLD.department_id, OLD.cycle_id, OLD.state) "
            f"< (NEW.department_id, NEW.cycle_id, NEW.state) THEN {n_old} {n_new} "
            f"ELSE {n_new} {n_old} END IF; RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
