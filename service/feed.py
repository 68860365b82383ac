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

from storage.feed_pages import map_events, notification_within
from storage.feed_queries import EVENT, BadCursor, Position, Row, head, instant_text, parse_cursor, read_rows
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
        """The page as ``GET /feed`` answers it: the envelopes' text spliced in, never parsed again.

        One join makes the whole text: a join inside an f-string makes a page-sized string twice, and
        allocating (then freeing) the second cost ten times the join itself (bench/feed.py)."""
        tail = f'],"next_cursor":"{self.next_cursor}"}}'
        if not self.bodies:
            return '{"entries":[' + tail
        parts = list(self.bodies)
        parts[0] = '{"entries":[' + parts[0]
        parts[-1] += tail
        return ",".join(parts)


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


_PIECES: dict[tuple[Any, ...], tuple[str, str, str]] = {}  # the envelope's text that few distinct values make


def _pieces(name: str, policy_id: str, version: int, before: str, after: str, actor: str | None) -> tuple[str, ...]:
    """The parts of an event's envelope made only of its event name, policy, states and actor: a store has few
    of these combinations, so each is written once (``_PIECES``, bounded) rather than once per entry."""
    key = (name, policy_id, version, before, after, actor)
    found = _PIECES.get(key)
    if found is None:
        if len(_PIECES) >= 4096:
            _PIECES.clear()
        found = _PIECES[key] = (
            f'","source":"{SOURCE}","type":"{TYPE_PREFIX}{name}","subject":',
            f',"policy_id":{_quote(policy_id)},"policy_version":{version},"event":"{name}",'
            f'"state_before":"{before}","state_after":"{after}","occurred_at":"',
            f'","actor":{"null" if actor is None else _quote(actor)},"data":',
        )
    return found


def event_body(row: Any) -> str:
    """An event row's envelope (storage/feed_queries.py's columns, unpacked by place) as compact JSON text.

    Written as text, not as dicts then ``json.dumps``: this is the feed's hot path (bench/feed.py), and the
    stored ``data`` is JSON text already (it goes in as stored). Free text (case id, actor, policy id) is
    quoted by the JSON encoder; event names and states are the vocabulary's identifiers; the key order is
    the documented one. SQLite's instants (``YYYY-MM-DD HH:MM:SS.ffffff``) are rewritten here by two
    replaces (the space, a whole second's fraction: half the cost of slicing) rather than in a call per
    instant (``instant_text``, which PostgreSQL's datetimes go through).
    """
    key, event_id, case_id, seq, name, data, occurred, recorded, actor, policy_id, version, before, after = row
    if type(occurred) is str and type(recorded) is str:  # the only ".000000" in the text is a whole second's
        time = occurred.replace(" ", "T").replace(".000000", "")
        recorded = recorded.replace(" ", "T").replace(".000000", "")
    else:  # the Z is the envelope's
        time, recorded = instant_text(occurred)[:-1], instant_text(recorded)[:-1]
    kind, policy, by = _PIECES.get((name, policy_id, version, before, after, actor)) or _pieces(
        name, policy_id, version, before, after, actor
    )
    subject = _quote(case_id)
    return (
        f'{{"specversion":"1.0","id":"event-{event_id}{kind}{subject},"time":"{time}Z",'
        f'"datacontenttype":"application/json","cursor":"{key}.0.{event_id}","data":{{"case_id":{subject},'
        f'"seq":{seq}{policy}{time}Z","recorded_at":"{recorded}Z{by}{data}}}}}'
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
        """The entries after ``after``. The usual page has no reminder in it: its events are built as the driver
        gives them (storage/feed_pages.py); a page with one is read again and merged (``read_rows``)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise EventRefused(["invalid_data"], {"limit": f"must be between 1 and {MAX_LIMIT}, got {limit}"})
        position = cursor_or_refuse(after)
        with self.engine.connect().execution_options(complaints_write=False) as connection, connection.begin():
            bodies, last = map_events(connection, position, limit, event_body)
            full = last is not None and len(bodies) == limit
            if not notification_within(connection, position, int(last[0]) if full else None):
                if last is None:
                    refuse_if_ahead(connection, position, after)
                    return FeedPage([], position.text())
                return FeedPage(bodies, f"{last[0]}.{EVENT}.{last[1]}")
            rows = read_rows(connection, position, limit)
        if not rows:  # the reminder found is not to be served yet (PostgreSQL: its transaction is in flight)
            return FeedPage([], position.text())
        return FeedPage([entry.body for entry in to_entries(rows)], Position(*rows[-1][0]).text())
