"""Where an endpoint's blocking service work runs, and how SQLite writers queue.

On SQLite the work is in-process and CPU-bound (a command is about a
millisecond) and writers are serialized by the file anyway, so it runs inline
on the event loop: handing it to a worker thread costs more than the work
(a GIL hand-off and a second thread contending for the one core the process
can use). On PostgreSQL each statement is a network round trip, so the work
goes to the thread pool and the loop keeps serving.

Writers on SQLite also queue on a per-process lock: a writer that finds the
file locked polls it with growing sleeps (up to 100 ms each), which would be
most of a busy server's tail latency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from api.bootstrap import App

T = TypeVar("T")

_write_locks: dict[int, threading.Lock] = {}


def inline(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def serialized_writes(engine: Engine) -> Iterator[None]:
    """On SQLite, one writing command at a time per process; PostgreSQL locks rows, so nothing here."""
    if not inline(engine):
        yield
        return
    lock = _write_locks.setdefault(id(engine), threading.Lock())
    with lock:
        yield


async def off_loop(app: App, work: Callable[[], T]) -> T:
    """Run blocking service work: inline on SQLite, on the thread pool on PostgreSQL."""
    if inline(app.engine):
        return work()
    return await run_in_threadpool(work)


async def write(app: App, work: Callable[[], T]) -> T:
    """A writing command, queued behind the process's other writers on SQLite."""

    def locked() -> T:
        with serialized_writes(app.engine):
            return work()

    return await off_loop(app, locked)
