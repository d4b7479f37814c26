"""A database at an older revision holding the demo world, as it would have been stored then.

The demo command writes with today's models, so it cannot run on an old schema. Instead the
rows of the session's demo database are copied, column by column, into a database upgraded
to the old revision; each evaluation gets what it held before frameworks and targets (0003):
a frozen scheme snapshot, the compiled scheme of its framework and target version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from scoring.frameworks import Framework, ProjectTargets, compile_scheme
from workflow.core.extensions import db
from workflow.models.digest import snapshot_digest

# Rows of these tables are kept by triggers or belong to newer revisions.
SKIP = {"alembic_version", "evaluation_counts"}


def fill_from_template(template: Path) -> None:
    """Copy the demo world in ``template`` (a SQLite file) into the app's database, which is
    at an older revision (inside an app context)."""
    source = sa.create_engine(f"sqlite:///{template}")
    target = db.engine
    old = sa.MetaData()
    old.reflect(target)
    new = sa.MetaData()
    new.reflect(source)
    try:
        with source.connect() as src, target.begin() as dst:
            snapshots = _snapshots(src, new)
            for table in old.sorted_tables:
                if table.name in SKIP or table.name not in new.tables:
                    continue
                columns = [c.name for c in table.columns if c.name in new.tables[table.name].c]
                query = sa.select(*(new.tables[table.name].c[c] for c in columns))
                if "targets_id" in new.tables[table.name].c:
                    query = query.where(new.tables[table.name].c.targets_id.is_(None))
                rows = [dict(r._mapping) for r in src.execute(query.order_by(sa.text("1")))]
                rows = _as_stored_then(table.name, rows)
                if table.name == "scheme_snapshots":
                    rows += list(snapshots.values())
                if table.name == "evaluations":
                    versions = {
                        r.id: (r.framework_id, r.target_version_id)
                        for r in src.execute(
                            sa.select(
                                new.tables["evaluations"].c.id,
                                new.tables["evaluations"].c.framework_id,
                                new.tables["evaluations"].c.target_version_id,
                            )
                        )
                    }
                    for row in rows:
                        row["scheme_id"] = snapshots[versions[row["id"]]]["id"]
                if rows:
                    dst.execute(table.insert(), rows)
                if target.dialect.name == "postgresql" and "id" in table.c and rows:
                    dst.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
    finally:
        source.dispose()


# Before 0006 there was one administrator role and phones and e-mails were plain text.
_ENCRYPTED = {"users": ("email", "phone"), "evaluations": ("phone",)}


def _as_stored_then(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from workflow.core import crypto

    if table == "users":
        # 复核专家 (expert) came with 0009.
        rows = [r for r in rows if r["role"] not in ("secadmin", "auditor", "expert")]
        for row in rows:
            if row["role"] == "sysadmin":
                row["role"] = "admin"
    if table == "audit_log":  # the demo's 抽查复核 (0009) was not there either
        rows = [r for r in rows if not str(r["event"]).startswith("recheck")]
    for column in _ENCRYPTED.get(table, ()):
        for row in rows:
            value = row.get(column)
            if value and crypto.field_key_id(value) is not None:
                row[column] = crypto.decrypt_field(value, f"{table}.{column}")
    return rows


def _snapshots(src: Any, meta: sa.MetaData) -> dict[tuple[int, int], dict[str, Any]]:
    """One snapshot per (framework, target version) of the demo's evaluations."""
    frameworks = {
        r.id: Framework.from_dict(r.content)
        for r in src.execute(
            sa.select(meta.tables["frameworks"].c.id, meta.tables["frameworks"].c.content)
        )
    }
    versions = {
        r.id: ProjectTargets.from_dict(r.rows)
        for r in src.execute(
            sa.select(meta.tables["target_versions"].c.id, meta.tables["target_versions"].c.rows)
        )
    }
    evaluations = meta.tables["evaluations"]
    pairs = sorted(
        {
            (r.framework_id, r.target_version_id)
            for r in src.execute(
                sa.select(evaluations.c.framework_id, evaluations.c.target_version_id)
            )
        }
    )
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for number, (framework_id, version_id) in enumerate(pairs, start=1):
        content = compile_scheme(frameworks[framework_id], versions[version_id])
        out[(framework_id, version_id)] = {
            "id": 1000 + number,
            "digest": snapshot_digest(content),
            "name": content["name"],
            "version": content["version"],
            "content": content,
            "created_at": datetime.now(UTC),
        }
    return out
