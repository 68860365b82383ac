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

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.engine import Engine

from api.bootstrap import App
from storage.write_lock import try_acquire, writing

T = TypeVar("T")

# The threads blocking service work runs on (as many as anyio's default thread pool had). asyncio's own executor
# hand-off costs a third of anyio's ``to_thread`` (no capacity limiter, no cancel scope, a C queue), and every
# PostgreSQL request pays it once. One pool per process, made at first use (each ``--workers`` process has its own).
THREADS = 40
_pool: ThreadPoolExecutor | None = None
_pool_guard = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_guard:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="complaints-work")
    return _pool


async def run_in_threadpool(work: Callable[[], T]) -> T:
    """``work()`` on a pool thread, with the caller's context variables, awaited without blocking the loop."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_threads(), context.run, work)


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
