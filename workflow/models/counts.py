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

``tests/workflow/test_evaluation_counts.py`` compares the table with a GROUP BY after
inserts, moves and deletes on both databases; migration 0002 creates it and fills it from
the evaluations already there.
"""

from __future__ import annotations

from sqlalchemy import DDL, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from workflow.core.extensions import db
from workflow.models.evaluation import Evaluation


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


# The two statements every trigger is made of: count NEW in, count OLD out.
_ADD_NEW = (
    "INSERT INTO evaluation_counts (department_id, cycle_id, state, n) "
    "VALUES (NEW.department_id, NEW.cycle_id, NEW.state, 1) "
    "ON CONFLICT (department_id, cycle_id, state) DO UPDATE SET n = evaluation_counts.n + 1;"
)
_REMOVE_OLD = (
    "UPDATE evaluation_counts SET n = n - 1 WHERE department_id = OLD.department_id "
    "AND cycle_id = OLD.cycle_id AND state = OLD.state;"
)
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
)

# The triggers are on evaluations: create this table (and them) after it.
EvaluationCount.__table__.add_is_dependent_on(Evaluation.__table__)
for _sql in SQLITE_TRIGGERS:
    event.listen(EvaluationCount.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(
        EvaluationCount.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql")
    )
