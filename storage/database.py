"""Engines for SQLite (default, a WAL file) and PostgreSQL, and the migrations.

SQLite's Python driver opens transactions lazily and deferred, so two writers
can both read a case and then deadlock on upgrade; we take over BEGIN and make
write transactions ``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite
recipe), which serializes writers at the start instead.
"""

from __future__ import annotations

import os
import re
import select
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

DEFAULT_URL = "sqlite:///complaints.db"
# A pooled PostgreSQL connection idle at least this long is pinged before use (see _pg_setup).
PING_AFTER_IDLE_S = 10.0
MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message is one clear line."""


def database_url() -> str:
    return os.environ.get("COMPLAINTS_DB_URL", DEFAULT_URL)


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = normalise_url(url or database_url())
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **kwargs)
        _sqlite_setup(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _pg_setup(engine)
    return engine


def _pg_setup(engine: Engine) -> None:
    """Check a pooled connection before use without a round trip to the server, unless it may be stale.

    SQLAlchemy's ``pool_pre_ping`` sends a statement at every checkout: a round trip per command. A server that
    restarts or ends a session (``pg_terminate_backend``, a failover) closes the socket, which leaves it readable
    while the connection is idle in the pool; so a connection is pinged only when its socket is readable or it
    has been idle ``PING_AFTER_IDLE_S`` or more (a silent network drop), and a failed ping recycles the whole pool,
    as ``pool_pre_ping`` does (tests/integration/test_pool_ping.py).
    """

    @sa.event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_S and not _readable(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as err:
            raise sa.exc.InvalidatePoolError(f"pooled connection is gone: {err}") from err


def _readable(dbapi_connection: Any) -> bool:
    """An idle connection with something to read has been closed (or sent an error) by the server."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _sqlite_setup(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get("complaints_write", True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_postgres(bind: Engine | sa.Connection) -> bool:
    return bind.dialect.name == "postgresql"


_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']""", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


def migration_heads() -> frozenset[str]:
    """The revisions no migration revises ("head"), read from the files' text without importing Alembic.

    Empty when a file is not in the form ours are written in; then Alembic decides.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down is None:
            return frozenset()
        revisions.add(revision.group(1))
        revised.update(re.findall(r"""["']([^"']+)["']""", down.group(1)))
    return frozenset(revisions - revised)


def _at_head(engine: Engine) -> bool:
    """Whether the store already stands at every head: one read, no Alembic (every CLI command asks)."""
    heads = migration_heads()
    if not heads:
        return False
    try:
        with engine.connect().execution_options(complaints_write=False) as connection:
            stored = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
    except sa.exc.SQLAlchemyError:
        return False  # a new store, or one that cannot be opened: Alembic creates it or says why
    return stored == heads


def upgrade(engine: Engine, revision: str = "head", on_step: Callable[[int, int], None] | None = None) -> None:
    """Bring the schema to ``revision`` with Alembic (what ``complaints db upgrade`` runs).

    ``on_step(done, total)`` hears of each migration applied: on a big store one (an index, a column
    rewritten by batch mode) can take minutes, and the command shows its progress. A store already
    at head is left as it is without importing Alembic (0.4 s of every CLI command).
    """
    if revision == "head" and _at_head(engine):
        if on_step is not None:
            on_step(0, 0)
        return
    from alembic import command
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if on_step is not None:
            current = MigrationContext.configure(connection).get_current_revision()
            pending = list(ScriptDirectory.from_config(config).iterate_revisions(revision, current or "base"))
            done = [0]

            def applied(**_: Any) -> None:
                done[0] += 1
                on_step(done[0], max(len(pending), done[0]))

            on_step(0, len(pending))
            config.attributes["on_version_apply"] = applied
        command.upgrade(config, revision)


def check_reachable(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as err:
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0] if str(err) else type(err).__name__
        raise DatabaseUnavailable(f"cannot open the database {engine.url.render_as_string()}: {reason}") from None
