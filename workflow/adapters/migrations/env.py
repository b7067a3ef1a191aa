"""Alembic environment. Migrations run on a connection handed in by workflow.adapters.migrate."""

from __future__ import annotations

from alembic import context

from workflow.adapters.orm import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `muhtar migrate`, which provides the database connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
