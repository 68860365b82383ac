"""The background worker of ``complaints serve`` (webhook delivery, due-soon reminders) in a child process.

Why a process and not a thread: a delivery costs about 230 us of CPU, most of it the loopback HTTP request
(system calls that also run the receiver's side of TCP), and in the serving process every microsecond of
it holds the GIL that HTTP commands need: with 2 subscriptions, commands kept 0.78 of their rate, against
a goal of 0.9 (bench/apply.py --webhooks). Sending from fewer, larger statements or a cheaper client does
not remove that: service/webhook_sender.py already writes each request in one system call on a kept-alive
connection. In a child the delivery never takes the commands' GIL, and the system runs it on another core.

It is still "inside ``complaints serve`` on every instance": each serve process (each ``--workers``
process too) starts its own child on start-up and stops it on shutdown, and the child runs the same loop
(api/background.py, scheduler/delivery.py) with the same claims (``SKIP LOCKED`` under a lease), so several
instances still send each delivery once per attempt. It dies with its parent: Linux sends it SIGKILL when
the parent dies (``PR_SET_PDEATHSIG``, so a ``kill -9`` of serve leaves no child delivering), and it also
watches its parent's sentinel (other systems, and the moment between its start and that request). What a
killed child had claimed is claimed again when the lease runs out, as after any crash.

The child is spawned (a fresh interpreter, not a fork of a process with server and timer threads), reads
the same settings from the environment and the serve clock (``--clock-start``) through
``api.shared_clock``. ``COMPLAINTS_DELIVERY=off`` starts none.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from typing import Any

from api.bootstrap import App, Settings
from storage.database import normalise_url

_PR_SET_PDEATHSIG = 1


class DeliveryProcess:
    """``start`` / ``stop`` as the in-process worker has them (api/serve_workers.py's lifespan calls them)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: Any = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        args = (self.settings, os.getpid())
        self.process = context.Process(target=_child, args=args, name="complaints-delivery", daemon=True)
        self.process.start()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: the child finishes the round it is in (what it sent is recorded), then exits."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(5)


def delivery_worker(app: App) -> DeliveryProcess | None:
    """What ``complaints serve`` runs for delivery and reminders: a child process, unless delivery is off."""
    from api.background import delivery_enabled
    from api.shared_clock import share_clock

    if not delivery_enabled():
        return None
    share_clock(app.clock)  # a shifted serve clock reaches the child through its environment
    return DeliveryProcess(app.settings)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before the request was made
        os._exit(0)
    sentinel = multiprocessing.parent_process()

    def watch() -> None:
        if sentinel is not None:
            sentinel.join()
            os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def delivery_nice(db_url: str) -> int:
    """How much lower than serve's the child's CPU priority is (``COMPLAINTS_DELIVERY_NICE``, 0 to 19).

    Delivery is background work: at a lower priority, on a busy machine the commands' process runs first.
    By default that is so on PostgreSQL only (10), where a delivery round holds nothing a command waits
    for. On SQLite (0: serve's own priority) each round holds the database's single writer lock for a few
    milliseconds, and a child at a lower priority, preempted while it holds it by whatever else the
    machine runs, holds it longer and every command waits meanwhile: measured, a lowered child made
    commands slower on a loaded machine (docs/design.md, "Webhook delivery beside the commands")."""
    raw = os.environ.get("COMPLAINTS_DELIVERY_NICE", "")
    default = 0 if normalise_url(db_url).startswith("sqlite") else 10
    try:
        return max(0, min(19, int(raw))) if raw.strip() else default
    except ValueError:
        return default


def _lower_priority(db_url: str) -> None:
    nice = delivery_nice(db_url)
    if nice:
        with contextlib.suppress(OSError, AttributeError):  # no os.nice (Windows): serve's priority
            os.nice(nice)


def _child(settings: Settings, parent: int) -> None:
    _die_with_parent(parent)
    _lower_priority(settings.db_url)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches serve, which stops this child itself
    from api.background import background_worker
    from api.bootstrap import bootstrap
    from api.shared_clock import worker_clock
    from service.logs import configure_logging

    configure_logging(settings.log_level)
    app = bootstrap(settings, clock=worker_clock(), migrate=False)  # serve migrated before starting it
    worker = background_worker(app)
    if worker is None:
        return
    worker.start()
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        worker.stop()
        app.engine.dispose()
