"""Alembic environment: runs inside the Flask app so that the URL and metadata are the app's."""

from __future__ import annotations

from alembic import context
from flask import current_app

from workflow.core.extensions import db

config = context.config
target_metadata = db.metadata


def run_offline() -> None:
    context.configure(
        url=str(db.engine.url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = db.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            **{
                **current_app.extensions["migrate"].configure_args,
                # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
                "render_as_batch": engine.dialect.name == "sqlite",
                "compare_type": True,
            },
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
