"""Pooled PostgreSQL connections that the server closed are noticed before use, without a ping per command.

storage/database.py pings a pooled connection only when its socket is readable (the server closed it or sent an
error) or it sat idle for ``PING_AFTER_IDLE_S``; a connection in steady use costs no extra round trip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.bootstrap import App, Settings, bootstrap
from storage import database
from tests.pg_server import PgServer

pytestmark = pytest.mark.postgres

RECEIVE = {"channel": "email", "incident_date": "2026-11-02", "formal": True}


@pytest.fixture
def app(fresh_postgres_url: str) -> Iterator[App]:
    app = bootstrap(Settings(db_url=fresh_postgres_url))
    yield app
    app.engine.dispose()


def _terminate_sessions(pg_server: PgServer, url: str) -> int:
    """End every server session on the database of ``url`` (what a restart or a failover does to them)."""
    admin = sa.create_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        ended = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": make_url(url).database},
        ).scalar_one()
    admin.dispose()
    time.sleep(0.2)  # the FATAL message and the close reach the pooled sockets
    return int(ended)


def test_a_command_after_the_server_ended_every_session_succeeds(
    app: App, pg_server: PgServer, fresh_postgres_url: str
) -> None:
    case_id = app.service.open_case("livin", RECEIVE, actor="crm")["id"]
    assert _terminate_sessions(pg_server, fresh_postgres_url) >= 1
    view = app.service.apply(case_id, "add_issue", {"description": "after the restart"}, actor="crm")
    assert view["version"] == 2


def test_a_connection_idle_too_long_is_pinged_and_replaced_when_gone(
    app: App, pg_server: PgServer, fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = app.service.open_case("livin", RECEIVE, actor="crm")["id"]
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)
    monkeypatch.setattr(database, "_readable", lambda _connection: False)  # a silent drop: only the idle time tells
    assert _terminate_sessions(pg_server, fresh_postgres_url) >= 1
    assert app.service.get_case(case_id)["version"] == 1


def test_a_connection_in_steady_use_is_not_pinged(app: App) -> None:
    case_id = app.service.open_case("livin", RECEIVE, actor="crm")["id"]
    app.service.get_case(case_id)
    pings: list[object] = []
    original = app.engine.dialect.do_ping
    app.engine.dialect.do_ping = lambda connection: pings.append(connection) or original(connection)  # type: ignore[method-assign]
    for n in range(5):
        app.service.apply(case_id, "add_issue", {"description": f"issue {n}"}, actor="crm")
    assert pings == []
