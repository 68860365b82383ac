"""What identifies the committed contents of a store: a value that changes whenever an event is committed.

Every write that changes what a report or a process map counts (a case
opened, an event applied, a deadline met or passed, an import) appends to
``events`` in the same transaction, and events are never updated or deleted.
So the committed set of events names the store's state, and:

- SQLite has one writer at a time (``BEGIN IMMEDIATE``), so event ids are
  committed in increasing order: the largest id names the set;
- PostgreSQL hands out ids from a sequence before commit, so a transaction
  can commit a lower id after a higher one is visible; the set only grows, so
  (largest id, how many) names it (an index-only count).
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import events

_SQLITE = sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))
_OTHER = sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0), sa.func.count())


def store_version(connection: sa.Connection) -> tuple[int, ...]:
    """A key equal for two reads exactly when no event was committed between them."""
    query = _SQLITE if connection.dialect.name == "sqlite" else _OTHER
    return tuple(int(v) for v in connection.execute(query).one())
