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
is no lock there (``writer_lock`` returns None). Across processes on one
file (serve's delivery child, ``--workers``, a CLI command beside serve) the
lock is a ``flock`` on ``<file>-writer`` (:class:`WriterLock`), so they queue
too instead of polling; ``BEGIN IMMEDIATE`` and the busy timeout still guard
the file against any writer that takes no lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

LOCK_SUFFIX = "-writer"  # complaints.db -> complaints.db-writer, beside SQLite's own -wal and -shm


class WriterLock:
    """The process's re-entrant writer lock of one SQLite file, which is also held across processes.

    Other processes on the file (serve's delivery child, a second worker, a CLI command) used to be kept
    apart by SQLite alone: a writer that found the file held slept 1, 2, 5, 10... ms and tried again, so a
    command arriving during the delivery child's short write waited milliseconds after it had ended. The
    outermost holder in a process also takes an exclusive ``flock`` on ``<file>-writer``: the kernel wakes
    the next process the moment it is released, and a process that dies lets go of it. SQLite's own lock
    and busy timeout still guard the file against writers that take no such lock.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._reset()

    def _reset(self) -> None:
        """Fresh state: at start, and in a child forked while the parent may have held the lock (a forked
        child shares the parent's open file, and so its flock, which must not count as the child's)."""
        self._rlock = threading.RLock()
        self._depth = 0  # the owner thread's nesting; changed only under _rlock
        self._fd: int | None = None

    def _file(self) -> int | None:
        if self._fd is None and self.path is not None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:  # a read-only folder: SQLite's own lock still keeps writers apart
                self.path = None
        return self._fd

    def acquire(self, blocking: bool = True) -> bool:
        if not self._rlock.acquire(blocking):
            return False
        if self._depth == 0:
            try:
                fd = self._file()
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._rlock.release()
                return False
            except BaseException:
                self._rlock.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._rlock.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_locks: dict[str, WriterLock] = {}
_guard = threading.Lock()


def _after_fork() -> None:
    global _guard
    _guard = threading.Lock()
    for lock in _locks.values():
        lock._reset()


os.register_at_fork(after_in_child=_after_fork)


def _key(engine: Engine) -> tuple[str, str | None]:
    """One key per database file, so two engines on one file (service and CLI in one process) share a lock;
    and the file other processes lock too (none for a database only this process can see)."""
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return f"engine:{id(engine)}", None
    path = str(Path(database).resolve())
    return path, path + LOCK_SUFFIX


def writer_lock(engine: Engine) -> WriterLock | None:
    """The process's writer lock of this SQLite database; None on PostgreSQL (rows are locked there)."""
    if engine.dialect.name != "sqlite":
        return None
    key, path = _key(engine)
    with _guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = WriterLock(path)
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


def try_acquire(engine: Engine) -> WriterLock | None | bool:
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
