"""Where an endpoint's blocking service work runs, and how SQLite writers queue.

On SQLite the work is in-process and CPU-bound (a command is about a
millisecond) and writers are serialized by the file anyway, so it runs inline
on the event loop: handing it to a worker thread costs more than the work
(a GIL hand-off and a second thread contending for the one core the process
can use). On PostgreSQL each statement is a network round trip, so the work
goes to the thread pool and the loop keeps serving.

Writers on SQLite queue on the process's writer lock, which every SQLite
writer of the process takes (storage/write_lock.py: HTTP, the deadline
timers, a CLI command run in the same process). A request that finds it free
runs inline, holding it; one that finds it held (a timers batch is running)
waits for it on the thread pool, so the event loop, and every read, goes on
meanwhile. Without the queue a writer that finds the file locked polls it
with growing sleeps (up to 100 ms each), most of a busy server's tail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from api.bootstrap import App
from storage.write_lock import try_acquire, writing

T = TypeVar("T")


def inline(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


async def off_loop(app: App, work: Callable[[], T]) -> T:
    """Run blocking service work: inline on SQLite, on the thread pool on PostgreSQL."""
    if inline(app.engine):
        return work()
    return await run_in_threadpool(work)


async def write(app: App, work: Callable[[], T]) -> T:
    """A writing command: on SQLite inline when the writer lock is free, else queued for it off the loop."""
    held = try_acquire(app.engine)
    if held is None:  # PostgreSQL
        return await run_in_threadpool(work)
    if held is not False:
        try:
            return work()
        finally:
            held.release()

    def queued() -> T:
        with writing(app.engine):
            return work()

    return await run_in_threadpool(queued)
