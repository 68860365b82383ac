"""The Alembic migrations build exactly the schema storage/tables.py declares, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.database import MIGRATIONS, make_engine, migration_heads, upgrade
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
        assert migration_heads() == {version}  # the fast check reads the same head Alembic does
        upgrade(engine)  # a second upgrade is a no-op
    finally:
        engine.dispose()


def test_a_store_behind_head_is_still_upgraded(db_url: str) -> None:
    """The at-head shortcut must never skip a migration: a store one revision behind is brought up."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")
        upgrade(engine)
        with engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
            diffs = compare_metadata(MigrationContext.configure(connection), metadata)
        assert {version} == migration_heads() and diffs == []
    finally:
        engine.dispose()
