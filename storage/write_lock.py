"""One writer at a time per SQLite database in this process: the lock every SQLite writer takes.

SQLite lets one writer hold the file at a time. A writer that finds it held
does not queue: it polls with growing sleeps (``busy_timeout``, up to 100 ms
each), and an HTTP writer running on the event loop would hold the loop, and
so every read, for as long as the other writer keeps the file (a timers batch
of 500 cases, an operator's CLI command in the same process). So every SQLite
write transaction of this process takes this lock first (``UnitOfWork``, the
token and idempotency writes): writers of one process queue here, in order,
without polling, and a caller that must not block (the HTTP event loop) can
ask whether the lock is free with :func:`try_acquire` and wait for it on a
worker thread when it is not (``api/http/offload.py``).

The lock is re-entrant, so a thread that took it around a whole request may
open the request's unit of work inside it. PostgreSQL locks rows, so there
is no lock there (``writer_lock`` returns None). Other processes on the same
SQLite file are still kept apart by ``BEGIN IMMEDIATE`` and the busy timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_locks: dict[str, threading.RLock] = {}
_guard = threading.Lock()


def _key(engine: Engine) -> str:
    """One key per database file, so two engines on one file (service and CLI in one process) share a lock."""
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return f"engine:{id(engine)}"
    return str(Path(database).resolve())


def writer_lock(engine: Engine) -> threading.RLock | None:
    """The process's writer lock of this SQLite database; None on PostgreSQL (rows are locked there)."""
    if engine.dialect.name != "sqlite":
        return None
    key = _key(engine)
    with _guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock


@contextmanager
def writing(engine: Engine) -> Iterator[None]:
    """Hold the writer lock (SQLite) for the body: every write transaction runs inside one of these."""
    lock = writer_lock(engine)
    if lock is None:
        yield
        return
    with lock:
        yield


def try_acquire(engine: Engine) -> threading.RLock | None | bool:
    """Take the writer lock only if it is free now: the lock (release it), None (no lock: PostgreSQL), or False."""
    lock = writer_lock(engine)
    if lock is None:
        return None
    return lock if lock.acquire(blocking=False) else False


@contextmanager
def write_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """``engine.begin()`` for a writer: under the writer lock on SQLite."""
    with writing(engine), engine.begin() as connection:
        yield connection
