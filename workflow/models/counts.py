"""How many evaluations each department has in each (cycle, state), kept by the database.

Every list page shows how many evaluations match and pages through them group by group; a
department's queue counted thousands of index entries on every request for it. The counts
are kept here instead, by triggers on ``evaluations`` (SQLite and PostgreSQL), in the same
transaction as the change: a rolled-back change leaves them as they were, and no code path
(ORM, Core, SQL by hand) can forget them. Rows whose count fell to 0 stay.

On PostgreSQL a change takes the row locks of its old and new (department, cycle, state) in
one order, the smaller key first, so that a submit and a withdraw in one department at the
same moment wait for each other instead of deadlocking. That holds for transactions that
move one evaluation, as every web request does. One that moves several (the CLI's import of
a form into a later state inserts a draft, then moves it) can deadlock with a move of the
same department, cycle and states at that moment: PostgreSQL then cancels one of the two,
which fails with an error and can be run again. The counter rows are hot for their
department's moves until each transaction commits; the workflow's transactions are short.

Nothing may TRUNCATE ``evaluations`` (the append-only audit log refers to it), so no
TRUNCATE trigger is needed. A batch migration on SQLite of ``evaluations``, ``projects``,
``cycles`` or ``risk_facts`` copies the table and drops its triggers: it must create them
again (``tests/workflow/test_migrations.py`` compares the migrations' triggers with these).
``flask evaluations recount`` rebuilds the counts from the evaluations (after a restore made
with triggers disabled, say).

Each group also has ``changed``, a number the triggers raise whenever its rows may have
changed as a list shows them: a move in or out, an evaluation changed in place (but a draft).
What a row shows from other tables (the names of projects, cycles and organisations, the risk
facts) raises ``org_generation`` instead (models/org.py). A web process keeps a page's rows
under the numbers of the groups the page shows and that one, and reads them again once one
has moved (evaluations/queries.py). A queued evaluation changed in place (a review score
saved, say) therefore holds its group's row until its transaction commits, as a move does; a
draft's save takes no lock here. A change that bypasses the triggers must raise the numbers
by hand (the recount raises every group's). Both only ever rise: no row here is deleted but
with its department or cycle (and then org_generation rises too).

``tests/workflow/test_evaluation_counts.py`` compares the table with a GROUP BY after
inserts, moves and deletes on both databases; migration 0002 creates it and fills it from
the evaluations already there.
"""

from __future__ import annotations

from sqlalchemy import DDL, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from workflow.core.extensions import db
from workflow.models.evaluation import Evaluation
from workflow.models.org import OrgGeneration
from workflow.models.recheck import RiskFacts


class EvaluationCount(db.Model):  # type: ignore[name-defined]
    __tablename__ = "evaluation_counts"

    department_id: Mapped[int] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True
    )
    cycle_id: Mapped[int] = mapped_column(
        ForeignKey("cycles.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(30), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    # Raised by the triggers whenever one of the group's evaluations moves in or out or
    # changes in place, drafts excepted (never lowered; `flask evaluations recount` raises it).
    changed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# The two statements every trigger is made of: count NEW in, count OLD out. Each also raises
# the group's ``changed``, as does a change in place (below): the web processes keep a page's
# rows per process under the generations of the groups it shows (evaluations/queries.py).
_ADD_NEW = (
    "INSERT INTO evaluation_counts (department_id, cycle_id, state, n, changed) "
    "VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1, 1) "
    "ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1, "
    "changed = evaluation_counts.changed + 1;"
)
_REMOVE_OLD = (
    "UPDATE evaluation_counts SET n = n - 1, changed = changed + 1 "
    "WHERE department_id = OLD.department_id AND cycle_id = OLD.cycle_id AND state = OLD.state;"
)
# An evaluation changed in place. Drafts are left out: their rows are never kept (a unit
# saves its draft many times an hour in spring, and its department's draft group would be
# a lock every save waits for).
_TOUCH_NEW = (
    "UPDATE evaluation_counts SET changed = changed + 1 WHERE department_id = NEW.department_id "
    "AND cycle_id = NEW.cycle_id AND state = NEW.state;"
)
# What a list row shows from other tables changes rarely and raises the one generation the
# signed-in user's statement reads (org_generation, models/org.py): the organisations' names
# (its own triggers), the projects' and cycles' names, the risk facts (written by the beat's
# refresh and a batch, not by the pages). A group's own number would have to be found
# through the evaluations, which a concurrent move changes under the trigger's feet.
_BUMP_NAMES = "UPDATE org_generation SET n = n + 1 WHERE id = 1;"
_MOVED_SQLITE = (
    "OLD.department_id IS NOT NEW.department_id OR OLD.cycle_id IS NOT NEW.cycle_id "
    "OR OLD.state IS NOT NEW.state"
)
_MOVED_PG = (
    "OLD.department_id IS DISTINCT FROM NEW.department_id "
    "OR OLD.cycle_id IS DISTINCT FROM NEW.cycle_id OR OLD.state IS DISTINCT FROM NEW.state"
)

SQLITE_TRIGGERS = (
    f"CREATE TRIGGER evaluation_counts_insert AFTER INSERT ON evaluations BEGIN {_ADD_NEW} END",
    f"CREATE TRIGGER evaluation_counts_delete AFTER DELETE ON evaluations BEGIN {_REMOVE_OLD} END",
    "CREATE TRIGGER evaluation_counts_update AFTER UPDATE OF department_id, cycle_id, state "
    f"ON evaluations WHEN {_MOVED_SQLITE} BEGIN {_REMOVE_OLD} {_ADD_NEW} END",
    f"CREATE TRIGGER evaluation_counts_touch AFTER UPDATE ON evaluations WHEN NOT ({_MOVED_SQLITE}) "
    f"AND NEW.state <> 'draft' BEGIN {_TOUCH_NEW} END",
    *(
        f"CREATE TRIGGER list_names_{table}_{op.split()[0].lower()} AFTER {op} ON {table} "
        f"BEGIN {_BUMP_NAMES} END"
        for table, ops in (
            ("risk_facts", ("INSERT", "UPDATE", "DELETE")),
            ("projects", ("UPDATE OF name",)),
            ("cycles", ("INSERT", "UPDATE", "DELETE")),
        )
        for op in ops
    ),
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION evaluation_counts_track() RETURNS trigger AS $$ BEGIN "
    f"IF TG_OP = 'INSERT' THEN {_ADD_NEW} "
    f"ELSIF TG_OP = 'DELETE' THEN {_REMOVE_OLD} "
    "ELSIF (OLD.department_id, OLD.cycle_id, OLD.state) "
    f"< (NEW.department_id, NEW.cycle_id, NEW.state) THEN {_REMOVE_OLD} {_ADD_NEW} "
    f"ELSE {_ADD_NEW} {_REMOVE_OLD} "
    "END IF; RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER evaluation_counts_insert_delete AFTER INSERT OR DELETE ON evaluations "
    "FOR EACH ROW EXECUTE FUNCTION evaluation_counts_track()",
    "CREATE TRIGGER evaluation_counts_update AFTER UPDATE OF department_id, cycle_id, state "
    f"ON evaluations FOR EACH ROW WHEN ({_MOVED_PG}) "
    "EXECUTE FUNCTION evaluation_counts_track()",
    "CREATE OR REPLACE FUNCTION evaluation_counts_touch() RETURNS trigger AS $$ BEGIN "
    f"{_TOUCH_NEW} RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER evaluation_counts_touch AFTER UPDATE ON evaluations FOR EACH ROW "
    f"WHEN (NOT ({_MOVED_PG}) AND NEW.state <> 'draft') EXECUTE FUNCTION evaluation_counts_touch()",
    # org_generation_bump() is the organisations' own (models/org.py).
    "CREATE TRIGGER list_names_risk_facts AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "
    "risk_facts FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()",
    "CREATE TRIGGER list_names_projects AFTER UPDATE OF name ON projects "
    "FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()",
    "CREATE TRIGGER list_names_cycles AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cycles "
    "FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()",
)

# The triggers are on evaluations, risk_facts, projects and cycles, and raise org_generation:
# create this table (and them) after those.
for _table in (Evaluation.__table__, RiskFacts.__table__, OrgGeneration.__table__):
    EvaluationCount.__table__.add_is_dependent_on(_table)
for _sql in SQLITE_TRIGGERS:
    event.listen(EvaluationCount.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(
        EvaluationCount.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql")
    )
