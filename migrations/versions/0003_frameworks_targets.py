"""frameworks, project targets and their versions, the indicator library

Every existing evaluation's frozen scheme becomes framework plus targets: the scheme is split
(scoring.frameworks.split_scheme) with the shared first levels of its layout, the framework
is stored once per content, the targets become an approved version of the project's targets
for that cycle (source "migration"), and the evaluation names both. Compiling them gives the
frozen scheme back exactly (checked here, row by row, before anything is written); no score,
total or grade is touched. An evaluation whose scheme cannot be split (a first level without
a weight) keeps reading its snapshot. The snapshots themselves stay.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 17:38:55
"""

import hashlib
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _sqlite():
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_only(*items):
    return items if _sqlite() else ()


def _sqlite_drop_not_null(table, column):
    """Drop a NOT NULL in place, the way SQLite's documentation describes for constraints
    that do not change the stored format (no table copy: triggers and references stay)."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar()
    old = f"{column} INTEGER NOT NULL"
    if old not in sql:
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
        (sql.replace(old, f"{column} INTEGER", 1), table),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _digest(content):
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Which first levels a layout's framework keeps for itself, and per-level rule overrides,
# as scoring.frameworks ships them at this revision.
SHARED_LEVELS = {
    "jiangsu": (("决策", "过程"), {}),
    "central": (("预算执行",), {"满意度指标": {">=": {"kind": "satisfaction"}}}),
}


def _split(content):
    """(framework dict, targets dict) of a frozen scheme, or None when it does not split
    back into exactly itself."""
    from scoring.frameworks import compile_scheme, split_scheme
    from scoring.schemes import SchemeError

    shared, rules = SHARED_LEVELS.get(str(content.get("layout", "")), ((), {}))
    names = {node["name"] for node in content.get("tree", [])}
    if not set(shared) <= names:
        # A layout of its own: every first level is the project's.
        shared = ()
    try:
        framework, targets = split_scheme(content, shared, level_rules=rules, source="migration")
        if compile_scheme(framework, targets) != content:
            return None
    except (SchemeError, KeyError, ValueError):
        return None
    return framework.to_dict(), targets.to_dict()


def _split_frozen_schemes():
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    frameworks = sa.table(
        "frameworks", sa.column("id", sa.Integer), sa.column("digest", sa.String),
        sa.column("name", sa.String), sa.column("version", sa.String),
        sa.column("content", sa.JSON), sa.column("created_at", sa.DateTime(timezone=True)),
    )
    targets = sa.table(
        "project_targets", sa.column("id", sa.Integer), sa.column("project_id", sa.Integer),
        sa.column("cycle_id", sa.Integer), sa.column("unit_id", sa.Integer),
        sa.column("department_id", sa.Integer), sa.column("state", sa.String),
        sa.column("version", sa.Integer), sa.column("pending_kind", sa.String),
        sa.column("pending_reason", sa.Text), sa.column("return_reason", sa.Text),
        sa.column("goal", sa.Text), sa.column("current_version_id", sa.Integer),
        sa.column("updated_at", sa.DateTime(timezone=True)), sa.column("draft", sa.JSON),
    )
    versions = sa.table(
        "target_versions", sa.column("id", sa.Integer), sa.column("targets_id", sa.Integer),
        sa.column("number", sa.Integer), sa.column("kind", sa.String),
        sa.column("reason", sa.Text), sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("approved_at", sa.DateTime(timezone=True)), sa.column("source", sa.String),
        sa.column("digest", sa.String), sa.column("rows", sa.JSON),
    )
    snapshots = sa.table("scheme_snapshots", sa.column("id", sa.Integer),
                         sa.column("content", sa.JSON))
    evaluations = sa.table(
        "evaluations", sa.column("id", sa.Integer), sa.column("project_id", sa.Integer),
        sa.column("cycle_id", sa.Integer), sa.column("unit_id", sa.Integer),
        sa.column("department_id", sa.Integer), sa.column("scheme_id", sa.Integer),
        sa.column("framework_id", sa.Integer), sa.column("target_version_id", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    cycles = sa.table("cycles", sa.column("id", sa.Integer), sa.column("scheme", sa.JSON),
                      sa.column("framework_id", sa.Integer))
    framework_ids = {}

    def framework_id(content):
        digest = _digest(content)
        if digest not in framework_ids:
            found = bind.execute(
                sa.select(frameworks.c.id).where(frameworks.c.digest == digest)
            ).scalar()
            if found is None:
                found = bind.execute(
                    frameworks.insert().returning(frameworks.c.id),
                    {"digest": digest, "name": str(content["name"]),
                     "version": str(content["version"]), "content": content, "created_at": now},
                ).scalar()
            framework_ids[digest] = found
        return framework_ids[digest]

    for cycle_id, scheme in bind.execute(sa.select(cycles.c.id, cycles.c.scheme)).all():
        split = _split(scheme) if scheme else None
        if split is not None:
            bind.execute(cycles.update().where(cycles.c.id == cycle_id)
                         .values(framework_id=framework_id(split[0])))
    # One parse and split per snapshot: thousands of evaluations share a handful.
    by_snapshot = {}
    rows = bind.execute(
        sa.select(evaluations.c.id, evaluations.c.project_id, evaluations.c.cycle_id,
                  evaluations.c.unit_id, evaluations.c.department_id, evaluations.c.scheme_id,
                  evaluations.c.created_at)
        .where(evaluations.c.target_version_id.is_(None))
        .order_by(evaluations.c.id)
    ).all()
    for ev_id, project_id, cycle_id, unit_id, department_id, scheme_id, created in rows:
        if scheme_id not in by_snapshot:
            content = bind.execute(
                sa.select(snapshots.c.content).where(snapshots.c.id == scheme_id)
            ).scalar()
            split = _split(content) if content else None
            by_snapshot[scheme_id] = (
                None if split is None else (framework_id(split[0]), split[1], _digest(split[1]))
            )
        found = by_snapshot[scheme_id]
        if found is None:
            continue
        fw_id, rows_dict, rows_digest = found
        targets_id = bind.execute(
            targets.insert().returning(targets.c.id),
            {"project_id": project_id, "cycle_id": cycle_id, "unit_id": unit_id,
             "department_id": department_id, "state": "approved", "version": 1,
             "pending_kind": "initial", "pending_reason": "", "return_reason": "",
             "goal": rows_dict.get("goal", ""), "current_version_id": None,
             "updated_at": now, "draft": {}},
        ).scalar()
        version_id = bind.execute(
            versions.insert().returning(versions.c.id),
            {"targets_id": targets_id, "number": 1, "kind": "initial", "reason": "",
             "created_at": created or now, "approved_at": created or now,
             "source": "migration", "digest": rows_digest, "rows": rows_dict},
        ).scalar()
        bind.execute(targets.update().where(targets.c.id == targets_id)
                     .values(current_version_id=version_id))
        bind.execute(evaluations.update().where(evaluations.c.id == ev_id)
                     .values(framework_id=fw_id, target_version_id=version_id))


def upgrade():
    op.create_table('frameworks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_frameworks')),
    sa.UniqueConstraint('digest', name=op.f('uq_frameworks_digest'))
    )
    op.create_table('indicator_library',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level1', sa.String(length=50), nullable=False),
    sa.Column('level2', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('nature', sa.String(length=10), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('default_value', sa.String(length=100), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_library')),
    sa.UniqueConstraint('level1', 'level2', 'name', name='uq_indicator_library_name')
    )
    op.create_table('project_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('pending_kind', sa.String(length=20), nullable=False),
    sa.Column('pending_reason', sa.Text(), nullable=False),
    sa.Column('return_reason', sa.Text(), nullable=False),
    sa.Column('goal', sa.Text(), nullable=False),
    sa.Column('current_version_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.CheckConstraint("pending_kind IN ('initial', 'adjustment')", name=op.f('ck_project_targets_pending_kind')),
    sa.CheckConstraint("state IN ('draft', 'submitted', 'approved', 'returned')", name=op.f('ck_project_targets_state')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_project_targets_version')),
    *_sqlite_only(sa.ForeignKeyConstraint(['current_version_id'], ['target_versions.id'], name=op.f('fk_project_targets_current_version_id_target_versions'), ondelete='RESTRICT')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_project_targets_cycle_id_cycles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['department_id'], ['orgs.id'], name=op.f('fk_project_targets_department_id_orgs'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_targets_project_id_projects'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id'], ['orgs.id'], name=op.f('fk_project_targets_unit_id_orgs'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_targets')),
    sa.UniqueConstraint('project_id', 'cycle_id', name='uq_project_targets_project_cycle')
    )
    op.create_index(op.f('ix_project_targets_cycle_id'), 'project_targets', ['cycle_id'], unique=False)
    op.create_index('ix_project_targets_department_state', 'project_targets', ['department_id', 'state'], unique=False)
    op.create_index('ix_project_targets_unit_state', 'project_targets', ['unit_id', 'state'], unique=False)
    op.create_table('target_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('targets_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.CheckConstraint("kind IN ('initial', 'adjustment')", name=op.f('ck_target_versions_kind')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_target_versions_approved_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_target_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['previous_id'], ['target_versions.id'], name=op.f('fk_target_versions_previous_id_target_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['targets_id'], ['project_targets.id'], name=op.f('fk_target_versions_targets_id_project_targets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_target_versions')),
    sa.UniqueConstraint('targets_id', 'number', name='uq_target_versions_number')
    )
    op.create_index(op.f('ix_target_versions_targets_id'), 'target_versions', ['targets_id'], unique=False)
    if _sqlite():
        # (Added columns take no ON DELETE clause SQLite's reflection would read back: these
        # references keep the default, NO ACTION, which refuses the delete all the same.)
        # SQLite adds a column with its reference in place; a batch copy of these tables
        # would drop their triggers (the audit log's append-only ones, the counts') and,
        # with foreign keys on, cascade the evaluations' dependants away.
        for table, column, referred in (
            ("audit_log", "targets_id", "project_targets"),
            ("cycles", "framework_id", "frameworks"),
            ("evaluations", "framework_id", "frameworks"),
            ("evaluations", "target_version_id", "target_versions"),
        ):
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
                f"CONSTRAINT fk_{table}_{column}_{referred} REFERENCES {referred} (id)"
            )
        _sqlite_drop_not_null("evaluations", "scheme_id")
        op.execute("ALTER TABLE projects ADD COLUMN code VARCHAR(60)")
    else:
        op.create_foreign_key(op.f('fk_project_targets_current_version_id_target_versions'), 'project_targets', 'target_versions', ['current_version_id'], ['id'], ondelete='RESTRICT')
        op.add_column('audit_log', sa.Column('targets_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_audit_log_targets_id_project_targets'), 'audit_log', 'project_targets', ['targets_id'], ['id'])
        op.add_column('cycles', sa.Column('framework_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_cycles_framework_id_frameworks'), 'cycles', 'frameworks', ['framework_id'], ['id'])
        op.add_column('evaluations', sa.Column('framework_id', sa.Integer(), nullable=True))
        op.add_column('evaluations', sa.Column('target_version_id', sa.Integer(), nullable=True))
        op.alter_column('evaluations', 'scheme_id', existing_type=sa.INTEGER(), nullable=True)
        op.create_foreign_key(op.f('fk_evaluations_target_version_id_target_versions'), 'evaluations', 'target_versions', ['target_version_id'], ['id'])
        op.create_foreign_key(op.f('fk_evaluations_framework_id_frameworks'), 'evaluations', 'frameworks', ['framework_id'], ['id'])
        op.add_column('projects', sa.Column('code', sa.String(length=60), nullable=True))
    op.create_index(op.f('ix_audit_log_targets_id'), 'audit_log', ['targets_id'], unique=False)
    op.create_index(op.f('ix_evaluations_target_version_id'), 'evaluations', ['target_version_id'], unique=False)
    op.create_index(op.f('ix_projects_code'), 'projects', ['code'], unique=False)
    _split_frozen_schemes()


def downgrade():
    if _sqlite():
        # SQLite drops no column that holds a reference; restore the file's backup instead.
        raise RuntimeError("0003 cannot be downgraded on SQLite")
    op.drop_index(op.f('ix_projects_code'), table_name='projects')
    op.drop_column('projects', 'code')
    op.drop_constraint(op.f('fk_evaluations_framework_id_frameworks'), 'evaluations', type_='foreignkey')
    op.drop_constraint(op.f('fk_evaluations_target_version_id_target_versions'), 'evaluations', type_='foreignkey')
    op.drop_index(op.f('ix_evaluations_target_version_id'), table_name='evaluations')
    # Evaluations created since keep no snapshot: they must go before this can run.
    op.alter_column('evaluations', 'scheme_id',
               existing_type=sa.INTEGER(),
               nullable=False)
    op.drop_column('evaluations', 'target_version_id')
    op.drop_column('evaluations', 'framework_id')
    op.drop_constraint(op.f('fk_cycles_framework_id_frameworks'), 'cycles', type_='foreignkey')
    op.drop_column('cycles', 'framework_id')
    op.drop_constraint(op.f('fk_audit_log_targets_id_project_targets'), 'audit_log', type_='foreignkey')
    op.drop_index(op.f('ix_audit_log_targets_id'), table_name='audit_log')
    op.drop_column('audit_log', 'targets_id')
    op.drop_index(op.f('ix_target_versions_targets_id'), table_name='target_versions')
    op.drop_table('target_versions')
    op.drop_index('ix_project_targets_unit_state', table_name='project_targets')
    op.drop_index('ix_project_targets_department_state', table_name='project_targets')
    op.drop_index(op.f('ix_project_targets_cycle_id'), table_name='project_targets')
    op.drop_table('project_targets')
    op.drop_table('indicator_library')
    op.drop_table('frameworks')
