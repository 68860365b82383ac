"""The PostgreSQL fixtures give real, separate, empty databases."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool


def _scalar(url: str, sql: str):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_url_connects_to_a_real_postgresql_server(postgres_url):
    assert make_url(postgres_url).drivername == "postgresql+psycopg"
    assert _scalar(postgres_url, "SELECT version()").startswith("PostgreSQL ")


@pytest.mark.postgres
def test_the_session_database_starts_empty(postgres_url):
    tables = _scalar(
        postgres_url,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    assert tables == 0


@pytest.mark.postgres
def test_two_fresh_databases_are_distinct(pg_server, fresh_postgres_url):
    other_url = pg_server.make_database()
    try:
        assert make_url(other_url).database != make_url(fresh_postgres_url).database
        first = create_engine(fresh_postgres_url, poolclass=NullPool)
        try:
            with first.begin() as conn:
                conn.execute(text("CREATE TABLE marker (id integer)"))
        finally:
            first.dispose()
        assert _scalar(other_url, "SELECT to_regclass('public.marker') IS NULL") is True
        assert _scalar(fresh_postgres_url, "SELECT to_regclass('public.marker') IS NULL") is False
    finally:
        pg_server.drop_database(other_url)


@pytest.mark.postgres
def test_a_fresh_database_is_dropped_even_with_connections_left_open(pg_server):
    url = pg_server.make_database()
    engine = create_engine(url)  # pooled: keeps its connection open
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    pg_server.drop_database(url)
    name = make_url(url).database
    assert _scalar(pg_server.admin_url, f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == 0
    engine.dispose()


def test_db_url_gives_each_backend_in_turn(db_url):
    backend = make_url(db_url).get_backend_name()
    assert backend in {"sqlite", "postgresql"}
    assert _scalar(db_url, "SELECT 1") == 1
