"""Reads for the audit (service/audit/__init__.py): a case as stored, whole (snapshot row, event rows, deadline rows).

Verifying a large landlord's whole history is dominated by reading it, so
cases are read a page at a time: one query for a page of case rows, one for
their events and one for their deadlines, each a range scan on the primary
key or on ``(case_id, seq)`` rather than a query per case.

The JSON and instant columns are fetched as the driver gives them and decoded
here (``_json``, ``_instant``): the same values the column types give
(tests/integration/test_audit_reads.py holds them equal on both backends), at
a third of the cost, because SQLAlchemy's SQLite date parsing goes through a
regular expression per value and verify reads every event there is. A JSON
value that no longer parses (an edited byte) is kept as its text, and an
instant or date that does not is None (its text kept for the hash), so verify
reports the row instead of stopping.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from json.scanner import make_scanner  # type: ignore[attr-defined]
from typing import Any, NamedTuple

import sqlalchemy as sa

from storage.tables import cases, deadlines, events
from workflow.audit.canonical import instant_text


class CaseRow(NamedTuple):
    id: str
    policy_id: str
    policy_version: int
    state: str
    closure_reason: str | None
    version: int
    breach_count: int
    snapshot: Any  # the snapshot object, or its text when it does not parse


class EventRow(NamedTuple):
    id: int
    case_id: str
    seq: int
    name: str
    data: Any  # the data object, or its text when it does not parse
    occurred_at: datetime | None  # None: the stored value is not an instant (verify reports the row)
    recorded_at: datetime | None
    actor: str
    policy_id: str
    policy_version: int
    state_before: str
    state_after: str
    prev_hash: str
    hash: str
    occurred_text: str  # the instants in the canonical form the hash chain is computed over
    recorded_text: str


class DeadlineRow(NamedTuple):
    case_id: str
    number: int
    kind: str
    stage: int
    due: date | None  # None: the stored value is not a date
    breach_at: datetime | None
    status: str
    opened_seq: int
    closed_seq: int | None


def _raw(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """The column as the driver returns it (no result processing), under its own name."""
    return sa.type_coerce(column, sa.String).label(column.name)


_CASE_COLUMNS = tuple(_raw(cases.c[name]) if name == "snapshot" else cases.c[name] for name in CaseRow._fields)
_EVENT_COLUMNS = tuple(
    _raw(events.c[name]) if name in ("data", "occurred_at", "recorded_at") else events.c[name]
    for name in EventRow._fields[:-2]
)
_DEADLINE_COLUMNS = tuple(
    _raw(deadlines.c[name]) if name in ("due", "breach_at") else deadlines.c[name] for name in DeadlineRow._fields
)
_decoder = json.JSONDecoder()
_scan = make_scanner(_decoder)  # the C scanner that JSONDecoder.decode wraps in Python


def _json(value: Any) -> Any:
    """SQLite gives JSON text, PostgreSQL's driver the object.

    The scanner alone when the text is exactly one JSON value (what the store writes); else the full
    decoder, which also takes surrounding whitespace; text that is not JSON stays text.
    """
    if type(value) is not str:
        return value
    try:
        found, end = _scan(value, 0)
        if end == len(value):
            return found
    except (StopIteration, ValueError):
        pass
    try:
        return _decoder.decode(value)
    except ValueError:
        return value


def _instant(value: Any) -> datetime | None:
    """SQLite gives ``YYYY-MM-DD HH:MM:SS.ffffff`` text, PostgreSQL's driver a datetime; both naive UTC."""
    try:
        if type(value) is str:
            return datetime.fromisoformat(value + "+00:00")  # five times cheaper than .replace(tzinfo=UTC)
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    except (ValueError, TypeError, AttributeError):
        return None


def _instant_and_text(value: Any) -> tuple[datetime | None, str]:
    """The instant, and ``canonical.instant_text`` of it: from SQLite's text by a slice, in its usual form.

    A value that is not an instant gives None and its own text (so its hash no longer matches).
    """
    instant = _instant(value)
    if instant is None:
        return None, str(value)
    if type(value) is str and len(value) == 26 and value[10] == " ":
        return instant, f"{value[:10]}T{value[11:]}Z"
    return instant, instant_text(instant)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if type(value) is str else value
    except ValueError:
        return None


@dataclass
class StoredCase:
    """Everything the store holds about one case, as rows (nothing interpreted yet)."""

    row: CaseRow
    events: list[EventRow] = field(default_factory=list)
    deadlines: list[DeadlineRow] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.row.id


def case_ids(connection: sa.Connection) -> list[str]:
    """Every case id, in the order pages are read."""
    return list(connection.execute(sa.select(cases.c.id).order_by(cases.c.id)).scalars())


def load_range(connection: sa.Connection, first: str, last: str) -> list[StoredCase]:
    """Every case whose id lies between ``first`` and ``last`` (inclusive), with its rows, in id order."""
    return _load(
        connection,
        cases.c.id.between(first, last),
        events.c.case_id.between(first, last),
        deadlines.c.case_id.between(first, last),
    )


def load_cases(connection: sa.Connection, ids: Sequence[str]) -> list[StoredCase]:
    """The given cases (those that exist), with their rows, in id order."""
    return _load(connection, cases.c.id.in_(ids), events.c.case_id.in_(ids), deadlines.c.case_id.in_(ids))


def _load(connection: sa.Connection, case_filter: Any, event_filter: Any, deadline_filter: Any) -> list[StoredCase]:
    found: dict[str, StoredCase] = {}
    for r in connection.execute(sa.select(*_CASE_COLUMNS).where(case_filter).order_by(cases.c.id)):
        found[r[0]] = StoredCase(CaseRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _json(r[7])))
    query = sa.select(*_EVENT_COLUMNS).where(event_filter).order_by(events.c.case_id, events.c.seq)
    current, append = None, None
    for r in connection.execute(query):  # every event of the store goes through here: kept lean
        case_id = r[1]
        if case_id != current:
            current, stored = case_id, found.get(case_id)
            append = stored.events.append if stored is not None else None
        if append is not None:
            occurred_at, occurred_text = _instant_and_text(r[5])
            recorded_at, recorded_text = _instant_and_text(r[6])
            append(
                EventRow(
                    r[0],
                    case_id,
                    r[2],
                    r[3],
                    _json(r[4]),
                    occurred_at,
                    recorded_at,
                    r[7],
                    r[8],
                    r[9],
                    r[10],
                    r[11],
                    r[12],
                    r[13],
                    occurred_text,
                    recorded_text,
                )
            )
    query = sa.select(*_DEADLINE_COLUMNS).where(deadline_filter).order_by(deadlines.c.case_id, deadlines.c.number)
    stored = None
    for r in connection.execute(query):
        if stored is None or stored.row.id != r[0]:
            stored = found.get(r[0])
        if stored is not None:
            stored.deadlines.append(DeadlineRow(r[0], r[1], r[2], r[3], _date(r[4]), _instant(r[5]), r[6], r[7], r[8]))
    return list(found.values())
