"""Results computed from the store (reports, process maps), kept until an event is committed.

The console's Reports page asks for the TSM year, the month's KPIs and twelve
months of figures on every view, and the process map reads every transition
of a policy's cases; on 100,000 cases that is about a second of queries for
figures that change only when an event is committed. ``StoreCache`` keeps the
last results keyed on what was asked and on ``store_version`` (one indexed
read): a view after a write computes afresh, so a page never shows figures
older than the store it reads. Each ``complaints serve`` worker keeps its
own; the entries are few (a least-recently-used bound) and small.

Cached values are shared between requests: callers must not change them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from storage.store_version import store_version

T = TypeVar("T")


class StoreCache:
    def __init__(self, engine: Engine, size: int = 64) -> None:
        self.engine, self.size = engine, size
        self._entries: OrderedDict[Hashable, tuple[tuple[int, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def version(self) -> tuple[int, ...]:
        with self.engine.connect() as connection:
            return store_version(connection)

    def get(
        self,
        key: Hashable,
        compute: Callable[[], T],
        version: tuple[int, ...] | None = None,
        update: Callable[[T], T] | None = None,
    ) -> T:
        """``compute()``'s value for ``key``, computed again if an event was committed since it was kept.

        The version is read before computing (or given: one read for a page's several figures), so a value
        is kept under a version no newer than the store it was computed on: a later event makes it stale.
        ``update`` brings a stale value up to date from what it knows it covered (a ``StoreMark``) instead
        of ``compute`` from scratch: the process map adds the events committed since (service/flow.py).
        """
        version = self.version() if version is None else version
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None and kept[0] == version:
                self._entries.move_to_end(key)
                self.hits += 1
                return kept[1]  # type: ignore[no-any-return]
            self.misses += 1
        value = compute() if kept is None or update is None else update(kept[1])
        with self._lock:
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
