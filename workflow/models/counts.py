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
TRUNCATE trigger is needed. A batch migration of ``evaluations`` on SQLite copies the table
and drops its triggers: it must create them again. ``flask evaluations recount`` rebuilds the
counts from the evaluations (after a restore made with triggers disabled, say).

Each group also has ``changed``, a number the triggers raise whenever what a list shows of
its rows may have changed: a move in or out, an evaluation changed in place (but a draft), its
risk facts, the name of its project or cycle. A web process keeps a page's rows under the
numbers of the groups the page shows and reads them again once one has moved
(evaluations/queries.py); the organisations' names have their own number (org_generation).
A change that bypasses the triggers must raise it by hand (the recount does). A queued
evaluation changed in place (a review score saved, say) therefore holds its group's row until
its transaction commits, as a move does; a draft's save takes no lock here.

``tests/workflow/test_evaluation_counts.py`` compares the table with a GROUP BY after
inserts, moves and deletes on both databases; migration 0002 creates it and fills it from
the evaluations already there.
"""

from __future__ import annotations

from sqlalchemy import DDL, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from workflow.core.extensions import db
from workflow.models.evaluation import Evaluation
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
    # Raised by the triggers whenever what a list shows of the group's rows may have changed
    # (never lowered; `flask evaluations recount` raises it too).
    changed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# The two statements every trigger is made of: count NEW in, count OLD out. Each also raises
# the group's ``changed``, as does any other change to what a list shows of a group's rows
# (below): the web processes keep a page's rows per process under the generations of the
# groups it shows (evaluations/queries.py).
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
# The groups a list row of this evaluation (risk facts) or of this project (its name) is in.
_TOUCH_EVALUATION = (
    "UPDATE evaluation_counts SET changed = changed + 1 WHERE EXISTS (SELECT 1 FROM evaluations "
    "e WHERE e.id = {row}.evaluation_id AND e.department_id = evaluation_counts.department_id "
    "AND e.cycle_id = evaluation_counts.cycle_id AND e.state = evaluation_counts.state);"
)
_TOUCH_PROJECT = (
    "UPDATE evaluation_counts SET changed = changed + 1 WHERE EXISTS (SELECT 1 FROM evaluations "
    "e WHERE e.project_id = NEW.id AND e.department_id = evaluation_counts.department_id "
    "AND e.cycle_id = evaluation_counts.cycle_id AND e.state = evaluation_counts.state);"
)
_TOUCH_CYCLE = "UPDATE evaluation_counts SET changed = changed + 1 WHERE cycle_id = NEW.id;"
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
        f"CREATE TRIGGER evaluation_counts_risk_{op.lower()} AFTER {op} ON risk_facts BEGIN "
        f"{_TOUCH_EVALUATION.format(row=row)} END"
        for op, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    f"CREATE TRIGGER evaluation_counts_project AFTER UPDATE OF name ON projects BEGIN {_TOUCH_PROJECT} END",
    f"CREATE TRIGGER evaluation_counts_cycle AFTER UPDATE OF name ON cycles BEGIN {_TOUCH_CYCLE} END",
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
    f"IF TG_TABLE_NAME = 'evaluations' THEN {_TOUCH_NEW} "
    f"ELSIF TG_TABLE_NAME = 'projects' THEN {_TOUCH_PROJECT} "
    f"ELSIF TG_TABLE_NAME = 'cycles' THEN {_TOUCH_CYCLE} "
    f"ELSIF TG_OP = 'DELETE' THEN {_TOUCH_EVALUATION.format(row='OLD')} "
    f"ELSE {_TOUCH_EVALUATION.format(row='NEW')} "
    "END IF; RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER evaluation_counts_touch AFTER UPDATE ON evaluations FOR EACH ROW "
    f"WHEN (NOT ({_MOVED_PG}) AND NEW.state <> 'draft') EXECUTE FUNCTION evaluation_counts_touch()",
    "CREATE TRIGGER evaluation_counts_risk AFTER INSERT OR UPDATE OR DELETE ON risk_facts "
    "FOR EACH ROW EXECUTE FUNCTION evaluation_counts_touch()",
    "CREATE TRIGGER evaluation_counts_project AFTER UPDATE OF name ON projects FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION evaluation_counts_touch()",
    "CREATE TRIGGER evaluation_counts_cycle AFTER UPDATE OF name ON cycles FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION evaluation_counts_touch()",
)

# The triggers are on evaluations, risk_facts, projects and cycles: create this table (and
# them) after those.
for _table in (Evaluation.__table__, RiskFacts.__table__):
    EvaluationCount.__table__.add_is_dependent_on(_table)
for _sql in SQLITE_TRIGGERS:
    event.listen(EvaluationCount.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(
        EvaluationCount.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql")
    )
