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
else:  # storage.database.upgrade: its connection, and its progress callback if it gave one
    on_version_apply = config.attributes.get("on_version_apply")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        on_version_apply=[on_version_apply] if on_version_apply else (),
    )
    context.run_migrations()
