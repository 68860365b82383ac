"""The Alembic migrations build exactly the schema storage/tables.py declares, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.database import make_engine, upgrade
from storage.tables import metadata


def test_migrations_match_the_declared_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), metadata)
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert diffs == []
        assert version == "0006"
        upgrade(engine)  # a second upgrade is a no-op
    finally:
        engine.dispose()
