"""The back-office feed as CloudEvents 1.0: every applied event and due-soon reminder, in order, from a cursor.

Each entry is a structured-mode CloudEvent (``specversion``, ``id``, ``source``, ``type``, ``subject`` =
case id, ``time``, ``datacontenttype``, ``data``) plus the extension attribute ``cursor``: give the last
one back as ``after`` and the next page starts right after it. Ordering and why a cursor never skips a
late commit: storage/feed_queries.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring as _quote  # the C encoder of one string: what json.dumps does
from typing import Any, NamedTuple

from sqlalchemy.engine import Engine

from storage.feed_queries import BadCursor, Position, Row, head, instant_text, parse_cursor, read_rows
from workflow.errors import EventRefused
from workflow.vocabulary import EVENTS

TYPE_PREFIX = "uk.complaints."
SOURCE = "urn:uk-complaints:store"
DUE_SOON = "deadline_due_soon"
ENTRY_NAMES: tuple[str, ...] = (*EVENTS, DUE_SOON)
ENTRY_TYPES: tuple[str, ...] = tuple(TYPE_PREFIX + name for name in ENTRY_NAMES)
MAX_LIMIT = 1000


class Entry(NamedTuple):
    """One feed entry as the webhooks' fan-out needs it: its id, type and subject, and its envelope's JSON
    text (what a delivery sends and signs)."""

    id: str
    type: str
    subject: str
    body: str


@dataclass(frozen=True)
class FeedPage:
    bodies: list[str]  # each entry's envelope as JSON text, in feed order
    next_cursor: str  # the cursor of the last entry, or the one given when there was nothing new

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "next_cursor": self.next_cursor}

    def json(self) -> str:
        """The page as ``GET /feed`` answers it: the envelopes' text spliced in, never parsed again."""
        return f'{{"entries":[{",".join(self.bodies)}],"next_cursor":"{self.next_cursor}"}}'


def cursor_or_refuse(text: str | None, field: str = "after") -> Position:
    """A cursor from a client, or 422 ``invalid_data`` naming ``field``."""
    try:
        return parse_cursor(text)
    except BadCursor as err:
        raise EventRefused(["invalid_data"], {field: str(err)}) from None


def refuse_if_ahead(connection: Any, position: Position, text: str | None, field: str = "after") -> None:
    """A cursor past the feed's head was never given out (a typo, a cursor of another store, a store restored
    from an older backup): 422 naming ``field``, rather than an empty page for ever while the events it
    skips arrive. Every cursor the feed gave out stays at or behind the head (entries are never removed, and
    on PostgreSQL the head only moves on with the oldest transaction in flight). Checked on an empty page
    only: a page with entries proves the cursor is behind them."""
    if position > head(connection):
        raise EventRefused(["invalid_data"], {field: f"{text!r} is past the end of the feed: not a cursor it gave out"})


def entry_type(name: str) -> str:
    return TYPE_PREFIX + name


def event_body(row: Any) -> str:
    """An event row's envelope (storage/feed_queries.py's columns, unpacked by place) as compact JSON text.

    Written as text, not as dicts then ``json.dumps``: this is the feed's hot path, and the stored ``data`` is
    JSON text already (it goes in as stored). Free text (case id, actor, policy id) is quoted by the JSON
    encoder; event names and states are the vocabulary's identifiers; the key order is the documented one.
    """
    key, event_id, case_id, seq, name, data, occurred, recorded, actor, policy_id, version, before, after = row
    time = instant_text(occurred)
    subject = _quote(case_id)
    return (
        f'{{"specversion":"1.0","id":"event-{event_id}","source":"{SOURCE}","type":"{TYPE_PREFIX}{name}",'
        f'"subject":{subject},"time":"{time}","datacontenttype":"application/json","cursor":"{key}.0.{event_id}",'
        f'"data":{{"case_id":{subject},"seq":{seq},"policy_id":{_quote(policy_id)},"policy_version":{version},'
        f'"event":"{name}","state_before":"{before}","state_after":"{after}","occurred_at":"{time}",'
        f'"recorded_at":"{instant_text(recorded)}","actor":{"null" if actor is None else _quote(actor)},'
        f'"data":{data}}}}}'
    )


def _instant(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def notification_body(position: tuple[int, int, int], row: Any) -> str:
    """A due-soon reminder's envelope (they are few: built as a dict), with the event envelope's keys."""
    entry = {
        "specversion": "1.0",
        "id": f"notification-{row.id}",
        "source": SOURCE,
        "type": TYPE_PREFIX + row.type,
        "subject": row.case_id,
        "time": _instant(row.occurred_at),
        "datacontenttype": "application/json",
        "cursor": Position(*position).text(),
        "data": {
            "case_id": row.case_id,
            "policy_id": row.policy_id,
            "policy_version": row.policy_version,
            "event": row.type,
            "recorded_at": _instant(row.recorded_at),
            **row.data,
        },
    }
    return json.dumps(entry, separators=(",", ":"), default=str)


def to_bodies(rows: list[Row]) -> list[str]:
    return [event_body(row) if kind == "event" else notification_body(position, row) for position, kind, row in rows]


def to_entries(rows: list[Row]) -> list[Entry]:
    """The rows as entries for the webhooks' fan-out."""
    return [
        Entry(f"event-{row.id}", TYPE_PREFIX + row.name, row.case_id, event_body(row))
        if kind == "event"
        else Entry(f"notification-{row.id}", TYPE_PREFIX + row.type, row.case_id, notification_body(position, row))
        for position, kind, row in rows
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
            if not rows:
                refuse_if_ahead(connection, position, after)
        last = Position(*rows[-1][0]) if rows else position
        return FeedPage(to_bodies(rows), last.text())
