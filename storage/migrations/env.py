"""Alembic environment: runs on the connection the caller hands over (``storage.database.upgrade``)."""

from __future__ import annotations

from alembic import context

from storage.database import make_engine
from storage.tables import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic upgrade` from the command line: COMPLAINTS_DB_URL or the default file
    with make_engine().begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
