"""Running Python's cyclic garbage collector less often during batch work (verify, the timers' firing).

Both make hundreds of thousands of short-lived objects without cycles (rows, snapshot dicts, deadlines,
log lines). With the default thresholds the collector runs every 700 allocations, and every few batches
a full pass walks every object of the process (the policies, SQLAlchemy's caches, a backlog's results):
about a tenth of a verify, and more of a large firing. Raising the first threshold makes passes rarer;
nothing is switched off, so a cycle made meanwhile is still collected.

The threshold is process-wide and the callers run on different threads (a timers batch while an
operator's verify runs), so the raised value is counted: it stays raised while any caller is inside,
and the value from before the first is put back when the last leaves.

A serving process settles the collector once started (:func:`settle_collector`): a request makes
thousands of short-lived objects, so with the defaults a full pass over the whole process (the modules,
the app, SQLAlchemy's compiled statements: start-up's objects, which live as long as the process) lands
inside some request every few hundred requests, tens of milliseconds of the HTTP p99 (bench/http.py).
Start-up's survivors are frozen out of every pass (``gc.freeze``) and the youngest generation widened.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FIRST_THRESHOLD = 50_000  # allocations between passes of the youngest generation (Python's default: 700)
SERVING_THRESHOLD = 10_000  # the same, in a serving process between batches

_lock = threading.Lock()
_inside = 0
_before: tuple[int, ...] = ()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold while the block runs (never lowers one set higher)."""
    global _inside, _before
    with _lock:
        if _inside == 0:
            _before = gc.get_threshold()
            gc.set_threshold(max(_before[0], FIRST_THRESHOLD), *_before[1:])
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                gc.set_threshold(*_before)


def settle_collector() -> None:
    """Collect once, freeze the survivors (start-up's objects) and widen the youngest generation.

    A timers batch may be inside :func:`fewer_collections` now (serve's first sweep runs as it starts): then
    the serving threshold is what the last caller to leave puts back, not the default it saved on entry."""
    global _before
    gc.collect()
    gc.freeze()
    with _lock:
        if _inside:
            _before = (SERVING_THRESHOLD, *_before[1:])
        else:
            gc.set_threshold(SERVING_THRESHOLD, *gc.get_threshold()[1:])


def batch_running() -> bool:
    """Whether some caller is inside :func:`fewer_collections` (its raised threshold is in force)."""
    with _lock:
        return _inside > 0
