"""evaluation_counts.changed: each list group's generation, raised by triggers; org_generation
also raised by the names of projects and cycles and by the risk facts

Revision ID: 0016_list_changed
Revises: 0015_org_generation
Create Date: 2026-12-07 23:00:00

Web processes keep a list page's rows per process under the generations of the (department,
cycle, state) groups the page shows, read with the group counts, and org_generation, read
with the signed-in user (workflow/models/counts.py).
"""

from alembic import op
import sqlalchemy as sa


revision = "0016_list_changed"
down_revision = "0015_org_generation"
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
BUMP_NAMES = "UPDATE org_generation SET n = n + 1 WHERE id = 1;"
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
        f"CREATE TRIGGER list_names_{table}_{op_.split()[0].lower()} AFTER {op_} ON {table} "
        f"BEGIN {BUMP_NAMES} END"
        for table, ops in (
            ("risk_facts", ("INSERT", "UPDATE", "DELETE")),
            ("projects", ("UPDATE OF name",)),
            ("cycles", ("INSERT", "UPDATE", "DELETE")),
        )
        for op_ in ops
    ),
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
    f"{TOUCH_NEW} RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER evaluation_counts_touch AFTER UPDATE ON evaluations FOR EACH ROW "
    f"WHEN (NOT ({MOVED_PG}) AND NEW.state <> 'draft') EXECUTE FUNCTION evaluation_counts_touch()",
    "CREATE TRIGGER list_names_risk_facts AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "
    "risk_facts FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()",
    "CREATE TRIGGER list_names_projects AFTER UPDATE OF name ON projects "
    "FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()",
    "CREATE TRIGGER list_names_cycles AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cycles "
    "FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()",
)
NEW_SQLITE = (
    "evaluation_counts_touch",
    "list_names_risk_facts_insert",
    "list_names_risk_facts_update",
    "list_names_risk_facts_delete",
    "list_names_projects_update",
    "list_names_cycles_insert",
    "list_names_cycles_update",
    "list_names_cycles_delete",
)
OLD_SQLITE = ("evaluation_counts_insert", "evaluation_counts_delete", "evaluation_counts_update")


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # Writes to evaluations wait until this commits: no change falls between the old
        # triggers and the new.
        op.execute("LOCK TABLE evaluations IN SHARE ROW EXCLUSIVE MODE")
    op.add_column(
        "evaluation_counts", sa.Column("changed", sa.Integer(), server_default="0", nullable=False)
    )
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
        op.execute("DROP TRIGGER IF EXISTS list_names_risk_facts ON risk_facts")
        op.execute("DROP TRIGGER IF EXISTS list_names_projects ON projects")
        op.execute("DROP TRIGGER IF EXISTS list_names_cycles ON cycles")
        op.execute("DROP FUNCTION IF EXISTS evaluation_counts_touch()")
    with op.batch_alter_table("evaluation_counts") as batch:
        batch.drop_column("changed")
    # The triggers of revision 0002, as they were.
    n_new = "INSERT INTO evaluation_counts (department_id, cycle_id, state, n) VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1;"
    n_old = "UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state;"
    if dialect == "sqlite":
        op.execute(
            f"CREATE TRIGGER evaluation_counts_insert AFTER INSERT ON evaluations BEGIN {n_new} END"
        )
        op.execute(
            f"CREATE TRIGGER evaluation_counts_delete AFTER DELETE ON evaluations BEGIN {n_old} END"
        )
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
