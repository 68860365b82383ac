"""Fixtures shared by tests/unit, tests/integration and tests/e2e.

Databases:
- ``sqlite_url``: a SQLite file in the test's tmp_path.
- ``postgres_url`` (session): one fresh database on a real PostgreSQL server for the whole run.
- ``fresh_postgres_url``: a new, empty PostgreSQL database for one test, dropped afterwards.
- ``db_url``: parametrized over both backends, so a test written once runs on SQLite and PostgreSQL.
- ``pg_server`` (session): the server itself, for tests that need more databases (``make_database()``).

The PostgreSQL server is ``COMPLAINTS_TEST_PG_URL`` when set, else a throwaway cluster started here
(see tests/pg_server.py). With no server, PostgreSQL tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pg_server import PgServer, PgUnavailable


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unavailable: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(pg_server: PgServer) -> str:
    """A fresh, empty database shared by the whole session (``postgresql+psycopg://...``)."""
    return pg_server.make_database()


@pytest.fixture
def fresh_postgres_url(pg_server: PgServer) -> Iterator[str]:
    """A new, empty database for this test only; dropped (connections and all) afterwards."""
    url = pg_server.make_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/complaints.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each backend in turn: ``sqlite_url`` or ``fresh_postgres_url``."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("fresh_postgres_url")
