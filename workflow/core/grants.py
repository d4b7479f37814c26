"""The application role's privileges on PostgreSQL, in one place.

Migrations run as the owner role, which owns every table; web, workers and beat connect as
the app role (docker/postgres-init/10-roles.sql creates both). After every upgrade
`flask init-db` calls `apply_grants` for the role named by DB_APP_ROLE:

- every table in the schema: SELECT, INSERT, UPDATE, DELETE (so a table a later migration
  adds is covered without touching this file);
- the tables in APPEND_ONLY: SELECT and INSERT only (the database's triggers refuse UPDATE
  and DELETE as well, and only the owner could switch them off);
- the tables in READ_ONLY: SELECT only;
- the sequences: USAGE and SELECT (INSERTs draw their ids).

A table that needs other rights (say a security table only some code may read) gets its own
entry here.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

APPEND_ONLY: tuple[str, ...] = ("audit_log", "security_events")
READ_ONLY: tuple[str, ...] = ("alembic_version",)
READ_WRITE = "SELECT, INSERT, UPDATE, DELETE"


def grant_statements(app_role: str, tables: list[str]) -> list[str]:
    role = f'"{app_role}"'
    statements: list[str] = []
    for table in sorted(tables):
        name = f'"{table}"'
        statements.append(f"REVOKE ALL ON TABLE {name} FROM {role}")
        if table in APPEND_ONLY:
            statements.append(f"GRANT SELECT, INSERT ON TABLE {name} TO {role}")
        elif table in READ_ONLY:
            statements.append(f"GRANT SELECT ON TABLE {name} TO {role}")
        else:
            statements.append(f"GRANT {READ_WRITE} ON TABLE {name} TO {role}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    return statements


def apply_grants(connection: Connection, app_role: str) -> list[str]:
    """Grant the app role its privileges on every table of the public schema (PostgreSQL
    only; run as the owner role). Returns the statements run."""
    if connection.dialect.name != "postgresql":
        return []
    if not app_role or '"' in app_role:
        raise ValueError(f"invalid role name {app_role!r}")
    tables = inspect(connection).get_table_names(schema="public")
    statements = grant_statements(app_role, tables)
    for statement in statements:
        connection.exec_driver_sql(statement)
    return statements
