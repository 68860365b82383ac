"""The back-office feed as CloudEvents 1.0: every applied event and due-soon reminder, in order, from a cursor.

Each entry is a structured-mode CloudEvent (``specversion``, ``id``, ``source``, ``type``, ``subject`` =
case id, ``time``, ``datacontenttype``, ``data``) plus the extension attribute ``cursor``: give the last
one back as ``after`` and the next page starts right after it. Ordering and why a cursor never skips a
late commit: storage/feed_queries.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from storage.feed_queries import BadCursor, Position, instant_text, parse_cursor, read_rows
from workflow.errors import EventRefused
from workflow.vocabulary import EVENTS

TYPE_PREFIX = "uk.complaints."
SOURCE = "urn:uk-complaints:store"
DUE_SOON = "deadline_due_soon"
ENTRY_NAMES: tuple[str, ...] = (*EVENTS, DUE_SOON)
ENTRY_TYPES: tuple[str, ...] = tuple(TYPE_PREFIX + name for name in ENTRY_NAMES)
MAX_LIMIT = 1000


@dataclass(frozen=True)
class FeedPage:
    entries: list[dict[str, Any]]
    next_cursor: str  # the cursor of the last entry, or the one given when there was nothing new

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "next_cursor": self.next_cursor}


def cursor_or_refuse(text: str | None, field: str = "after") -> Position:
    """A cursor from a client, or 422 ``invalid_data`` naming ``field``."""
    try:
        return parse_cursor(text)
    except BadCursor as err:
        raise EventRefused(["invalid_data"], {field: str(err)}) from None


def entry_type(name: str) -> str:
    return TYPE_PREFIX + name


def _instant(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def event_entry(position: Position, row: Any) -> dict[str, Any]:
    """The envelope of an event row (storage/feed_queries.py's columns, unpacked by place: the hot path)."""
    event_id, _txid, case_id, seq, name, data, occurred, recorded, actor, policy_id, version, before, after = row
    occurred_at = instant_text(occurred)
    return {
        "specversion": "1.0",
        "id": f"event-{event_id}",
        "source": SOURCE,
        "type": TYPE_PREFIX + name,
        "subject": case_id,
        "time": occurred_at,
        "datacontenttype": "application/json",
        "cursor": f"{position.key}.0.{event_id}",
        "data": {
            "case_id": case_id,
            "seq": seq,
            "policy_id": policy_id,
            "policy_version": version,
            "event": name,
            "state_before": before,
            "state_after": after,
            "occurred_at": occurred_at,
            "recorded_at": instant_text(recorded),
            "actor": actor,
            "data": data,
        },
    }


def notification_entry(position: Position, row: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"notification-{row.id}",
        "source": SOURCE,
        "type": TYPE_PREFIX + row.type,
        "subject": row.case_id,
        "time": _instant(row.occurred_at),
        "datacontenttype": "application/json",
        "cursor": position.text(),
        "data": {
            "case_id": row.case_id,
            "policy_id": row.policy_id,
            "policy_version": row.policy_version,
            "event": row.type,
            "recorded_at": _instant(row.recorded_at),
            **row.data,
        },
    }


def to_entries(rows: list[tuple[Position, str, Any]]) -> list[dict[str, Any]]:
    return [
        event_entry(position, row) if what == "event" else notification_entry(position, row)
        for position, what, row in rows
    ]


class Feed:
    """Pages of the feed; reads only (a read transaction per page)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(self, after: str | None = None, limit: int = 100) -> FeedPage:
        if not 1 <= limit <= MAX_LIMIT:
            raise EventRefused(["invalid_data"], {"limit": f"must be between 1 and {MAX_LIMIT}, got {limit}"})
        position = cursor_or_refuse(after)
        with self.engine.connect().execution_options(complaints_write=False) as connection, connection.begin():
            rows = read_rows(connection, position, limit)
        entries = to_entries(rows)
        return FeedPage(entries, entries[-1]["cursor"] if entries else position.text())
