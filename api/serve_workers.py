"""``complaints serve --workers N``: N uvicorn worker processes on one socket, each with its own timers.

One server process uses one core (a request costs the server a few ms of CPU
on PostgreSQL, see docs/operators.md), so more throughput on one
machine needs more processes. uvicorn's supervisor binds the socket once and
spawns N workers; each builds the app through :func:`worker_app` (settings
from the environment, as the parent's).

Each worker runs the deadline timers too, as a separate instance would. This
is safe because firing is decided in the database, not by the timers: a batch
locks its cases with ``SELECT ... FOR UPDATE SKIP LOCKED`` and claims each
deadline with ``UPDATE ... WHERE status = 'open'`` (service/firing.py), so two
firing processes split a midnight's cases between them and each deadline
fires once (tests/e2e/test_timers.py, test_serve_workers.py). It is also
what the design wants: the worker that took a command plans its wake-up
through the ``on_deadlines`` hook at once, with no cross-process signal, and
a burst of deadlines at one midnight is fired by N processes instead of one.
The cost is N sweeps a minute instead of one (a few indexed queries each).

Each worker runs the webhook delivery and due-soon reminders too (in its child process:
api/delivery_process.py), for the same reason: outbox rows are claimed with ``SKIP LOCKED`` under a
lease (service/webhooks.py), so two workers send each delivery once per attempt, and a reminder is
written once (a unique key).

SQLite is refused: its file serializes writers across processes by polling
(``busy_timeout``), and the writer lock that queues writers
(storage/write_lock.py) is per process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from workflow.errors import ComplaintsError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.bootstrap import App, Settings
    from api.delivery_process import DeliveryProcess
    from scheduler.delivery import BackgroundWorker
    from scheduler.timers import DeadlineTimers

FACTORY = "api.serve_workers:worker_app"


def with_timers(
    app: App, timers: DeadlineTimers, worker: BackgroundWorker | DeliveryProcess | None = None, dispose: bool = False
) -> FastAPI:
    """The HTTP app, whose lifespan starts the timers and the background worker (webhook delivery, due-soon
    reminders: api/background.py) and stops them (uvicorn's SIGTERM/SIGINT) before exit."""
    from api.http.app import create_app
    from service.collector import settle_collector

    api = create_app(app)
    inner = api.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(asgi: Any) -> AsyncIterator[Any]:
        async with inner(asgi) as state:
            timers.start(app.service.fire_due, app.service.upcoming_instants)
            if worker is not None:
                worker.start()
            settle_collector()  # start-up is done: its objects leave the collector's passes (service/collector.py)
            try:
                yield state
            finally:
                if worker is not None:
                    await asyncio.to_thread(worker.stop)
                await asyncio.to_thread(timers.stop)
                if dispose:  # a worker process (api/serve_workers.py): nobody else closes its pool
                    app.engine.dispose()

    api.router.lifespan_context = lifespan
    return api


def check_workers(workers: int, settings: Settings) -> None:
    if workers < 1:
        raise ComplaintsError("--workers must be at least 1", code="invalid_data")
    if workers > 1 and not settings.db_url.startswith(("postgresql", "postgres")):
        raise ComplaintsError(
            "--workers above 1 needs PostgreSQL (COMPLAINTS_DB_URL=postgresql://...): SQLite serializes "
            "writers on one file, so one process is the fastest there",
            code="invalid_data",
        )


def worker_app() -> FastAPI:
    """uvicorn's factory in each worker process: the app with its own timers and delivery process, as
    ``serve`` builds it."""
    from api.bootstrap import Settings, bootstrap
    from api.delivery_process import delivery_worker
    from api.shared_clock import worker_clock
    from scheduler.timers import DeadlineTimers
    from service.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    clock = worker_clock()
    timers = DeadlineTimers(clock, sweep_seconds=settings.sweep_seconds)
    app = bootstrap(settings, clock=clock, on_deadlines=timers.deadlines_changed)
    return with_timers(app, timers, delivery_worker(app), dispose=True)


def run_workers(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers, access_log=False, log_level="info")
