"""Alembic environment: runs on the connection `storage.migrate` hands over.

We never let Alembic open its own engine: `storage.migrate` opens an async connection and
runs the migration functions on it via `run_sync`, so the same URL and drivers serve both.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `scrumy db upgrade` (storage.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
