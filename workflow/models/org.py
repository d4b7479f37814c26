"""Organisations: the finance office, supervising departments (主管部门) and their units."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import DDL, CheckConstraint, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.core.extensions import db


class OrgKind(StrEnum):
    FINANCE = "finance"
    DEPARTMENT = "department"
    UNIT = "unit"


ORG_KIND_LABELS = {
    OrgKind.FINANCE: "财政部门",
    OrgKind.DEPARTMENT: "主管部门",
    OrgKind.UNIT: "预算单位",
}


class Org(db.Model):  # type: ignore[name-defined]
    __tablename__ = "orgs"
    __table_args__ = (
        CheckConstraint("kind IN ('finance', 'department', 'unit')", name="kind"),
        # A unit always hangs under a department; nothing else has a parent.
        CheckConstraint(
            "(kind = 'unit' AND parent_id IS NOT NULL) OR (kind <> 'unit' AND parent_id IS NULL)",
            name="unit_parent",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("orgs.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Org | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Org]] = relationship(back_populates="parent", order_by="Org.name")

    @property
    def kind_label(self) -> str:
        return ORG_KIND_LABELS[OrgKind(self.kind)]

    @property
    def department_id(self) -> int | None:
        if self.kind == OrgKind.UNIT:
            return self.parent_id
        if self.kind == OrgKind.DEPARTMENT:
            return self.id
        return None

    def __repr__(self) -> str:
        return f"<Org {self.id} {self.kind} {self.name}>"


class OrgGeneration(db.Model):  # type: ignore[name-defined]
    """How many times the organisations changed: one row, its number raised by triggers on
    ``orgs`` (SQLite and PostgreSQL) in the transaction of the change, whichever way the
    change is made. Read with the signed-in user on every request, it says whether what a web
    process kept of the organisations (the list filter's units) is still true. The names of
    projects and cycles and the risk facts raise it too (their triggers are in
    models/counts.py): kept list pages show them."""

    __tablename__ = "org_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


_BUMP = "UPDATE org_generation SET n = n + 1 WHERE id = 1;"
ORG_GENERATION_SQLITE = tuple(
    f"CREATE TRIGGER org_generation_{op.lower()} AFTER {op} ON orgs BEGIN {_BUMP} END"
    for op in ("INSERT", "UPDATE", "DELETE")
)
ORG_GENERATION_POSTGRES = (
    "CREATE OR REPLACE FUNCTION org_generation_bump() RETURNS trigger AS $$ BEGIN "
    f"{_BUMP} RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER org_generation_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON orgs "
    "FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()",
)

# The triggers are on orgs: create this table (its one row, then them) after it.
OrgGeneration.__table__.add_is_dependent_on(Org.__table__)
event.listen(
    OrgGeneration.__table__, "after_create", DDL("INSERT INTO org_generation (id, n) VALUES (1, 0)")
)
for _sql in ORG_GENERATION_SQLITE:
    event.listen(OrgGeneration.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in ORG_GENERATION_POSTGRES:
    event.listen(
        OrgGeneration.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql")
    )
