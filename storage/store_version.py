"""What identifies the committed contents of a store: a value that changes whenever an event is committed.

Every write that changes what a report, a process map or the work list shows
(a case opened, an event applied, a deadline met or passed, an import)
appends to ``events`` in the same transaction, and events are never updated
or deleted. So the committed set of events names the store's state, and it
only grows:

- SQLite has one writer at a time (``BEGIN IMMEDIATE``), so event ids are
  committed in increasing order: the largest id names the set;
- PostgreSQL hands out ids from a sequence before commit, so a transaction
  can commit a lower id after a higher one is visible. Each event row holds
  its writing transaction's id (``txid``, the feed's key). Every transaction
  older than the snapshot's ``xmin`` has ended, so the events below it are
  settled; the ones at or above it (a few recent rows of the
  ``ix_events_feed`` index) are named by their count and largest id, as the
  set only grows. (xmin, count, largest id), read in one statement's snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import events

_XMIN_SQL = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
# PostgreSQL: the oldest transaction still in flight for this snapshot; every txid below it has ended.
# The feed (storage/feed_queries.py) and the console's marks (storage/store_mark.py) cut the store at it too.
SNAPSHOT_XMIN = sa.text(_XMIN_SQL)
_SQLITE = sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))
_POSTGRES = sa.text(
    "SELECT s.xmin, count(e.id), coalesce(max(e.id), 0)"
    f" FROM (SELECT {_XMIN_SQL} AS xmin) AS s"
    " LEFT JOIN events AS e ON e.txid >= s.xmin GROUP BY s.xmin"
)


def store_version(connection: sa.Connection) -> tuple[int, ...]:
    """A key equal for two reads exactly when no event was committed between them."""
    query = _SQLITE if connection.dialect.name == "sqlite" else _POSTGRES
    return tuple(int(v) for v in connection.execute(query).one())
