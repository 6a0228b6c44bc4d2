"""Alembic environment: runs on the connection the store hands over (never reads alembic.ini or env)."""

from __future__ import annotations

from alembic import context

from steadyhand.store.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
