"""Organisations: the finance office, supervising departments (主管部门) and their units."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
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
