"""The event log for process mining: XES, OCEL 2.0 JSON and flat CSV, written as the rows stream past.

Each writer is a generator of text chunks over the streamed reads of
storage/event_log_queries.py, so memory stays flat however many events there
are: the CLI writes the chunks to a file, the HTTP route streams them.

- XES (IEEE 1849-2023): a trace per case (``concept:name`` the case id, with
  ``policy`` and ``outcome`` attributes), an event per stored event with
  ``concept:name`` (the activity), ``time:timestamp``,
  ``lifecycle:transition`` (complete), ``org:resource`` (the actor) and the
  states before and after. A deadline that passed is an event named
  ``breach <kind>`` (or ``<kind> passed`` for a window, which is no breach).
- OCEL 2.0 JSON: objects of type case, deadline and handler; each event is
  linked to its case, a passing to its deadline, an acknowledgement to its
  handler.
- CSV: case id, activity, timestamp, resource, state before, state after.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import quoteattr

from service.flow import BadPeriod, parse_day
from storage.event_log_queries import LogFilter, case_rows, deadline_rows, event_rows, handler_names
from storage.unit_of_work import UnitOfWorkFactory
from workflow.calendar import start_of_local_day
from workflow.catalog import Catalog
from workflow.vocabulary import DEADLINE_PASSED, WINDOWS

FORMATS = ("xes", "ocel", "csv")
MEDIA = {"xes": "application/xml", "ocel": "application/json", "csv": "text/csv"}
Tick = Callable[[int], None]
CHUNK = 500  # events a chunk of text


def activity(name: str, data: dict[str, Any]) -> str:
    """The activity name of a stored event: the event, or which deadline passed (a breach, or a window)."""
    if name != DEADLINE_PASSED:
        return name
    kind = str(data.get("deadline", ""))
    return f"{kind} passed" if kind in WINDOWS else f"breach {kind}"


def outcome(state: str, closure_reason: str | None) -> str:
    return closure_reason or ("ombudsman_referred" if state == "ombudsman_referred" else "open")


def log_filter(catalog: Catalog, policy: str | None, since: str | None, until: str | None) -> LogFilter:
    """The CLI's and the HTTP route's filter: a policy ref, and local dates (Europe/London), both included."""
    first, last = parse_day(since, "since"), parse_day(until, "until")
    if first and last and last < first:
        raise BadPeriod(f"until {last} is before since {first}")
    policy_id = version = None
    if policy:
        chosen = catalog.resolve(policy)
        policy_id, version = chosen.id, (chosen.version if "@" in policy else None)
    return LogFilter(
        policy_id,
        version,
        start_of_local_day(first) if first else None,
        start_of_local_day(last + timedelta(days=1)) if last else None,
    )


def export(uow: UnitOfWorkFactory, fmt: str, which: LogFilter, tick: Tick | None = None) -> Iterator[str]:
    """The whole log in ``fmt`` as text chunks, read in one read-only transaction."""
    writer = {"xes": _xes, "ocel": _ocel, "csv": _csv}[fmt]
    with uow(write=False) as unit:
        yield from writer(unit.connection, which, tick or (lambda _n: None))


_XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="2.0" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <string key="concept:name" value="complaints event log"/>
"""


def _s(key: str, value: Any) -> str:
    return f"<string key={quoteattr(key)} value={quoteattr(str(value))}/>"


@lru_cache(maxsize=8192)
def _xes_event_parts(activity_name: str, actor: str, before: str, after: str) -> tuple[str, str]:
    """An event's XML around its timestamp and seq, escaped once per distinct (activity, actor, states).

    Those are few (tens of activities and states, a handful of actors), so quoting them once per row
    would be most of the export's time.
    """
    head = f'    <event>{_s("concept:name", activity_name)}<date key="time:timestamp" value="'
    tail = (
        f'"/>{_s("lifecycle:transition", "complete")}{_s("org:resource", actor)}'
        f'{_s("state_before", before)}{_s("state_after", after)}<int key="seq" value="'
    )
    return head, tail


def _xes(connection: Any, which: LogFilter, tick: Tick) -> Iterator[str]:
    yield _XES_HEAD
    parts: list[str] = []
    case: str | None = None
    n = 0
    for row in event_rows(connection, which):
        if row.case_id != case:
            if case is not None:
                parts.append("  </trace>\n")
            case = row.case_id
            parts.append(
                f"  <trace>{_s('concept:name', case)}{_s('policy', f'{row.policy_id}@{row.policy_version}')}"
                f"{_s('outcome', outcome(row.case_state, row.closure_reason))}{_s('state', row.case_state)}"
                + (_s("external_ref", row.external_ref) if row.external_ref else "")
                + "\n"
            )
        head, tail = _xes_event_parts(activity(row.name, row.data), row.actor, row.state_before, row.state_after)
        parts.append(f'{head}{row.occurred_at.isoformat(timespec="milliseconds")}{tail}{row.seq}"/></event>\n')
        n += 1
        if n % CHUNK == 0:
            yield "".join(parts)
            parts.clear()
            tick(CHUNK)
    if case is not None:
        parts.append("  </trace>\n")
    parts.append("</log>\n")
    yield "".join(parts)
    tick(n % CHUNK)


def _csv(connection: Any, which: LogFilter, tick: Tick) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["case_id", "activity", "timestamp", "resource", "state_before", "state_after", "policy", "seq"])
    n = 0
    for row in event_rows(connection, which):
        writer.writerow(
            [
                row.case_id,
                activity(row.name, row.data),
                row.occurred_at.isoformat(),
                row.actor,
                row.state_before,
                row.state_after,
                f"{row.policy_id}@{row.policy_version}",
                row.seq,
            ]
        )
        n += 1
        if n % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            tick(CHUNK)
    yield buffer.getvalue()
    tick(n % CHUNK)


def _attrs(**values: Any) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in values.items() if v is not None]


def _ocel(connection: Any, which: LogFilter, tick: Tick) -> Iterator[str]:
    """Objects first (cases, deadlines, handlers; three streamed reads), then the events (a fourth)."""
    dump = json.dumps
    case_attrs = [{"name": n, "type": "string"} for n in ("policy", "state", "outcome", "external_ref")]
    event_attrs = [{"name": n, "type": "string"} for n in ("resource", "state_before", "state_after")]
    head = {
        "objectTypes": [
            {"name": "case", "attributes": case_attrs},
            {"name": "deadline", "attributes": [{"name": "kind", "type": "string"}, {"name": "due", "type": "string"}]},
            {"name": "handler", "attributes": []},
        ],
    }
    yield dump(head)[:-1] + ', "objects": [\n'
    first = True

    def item(value: dict[str, Any]) -> str:
        nonlocal first
        text = ("" if first else ",\n") + dump(value)
        first = False
        return text

    parts: list[str] = []
    for c in case_rows(connection, which):
        at = c.opened_at.isoformat()
        values = _attrs(
            policy=f"{c.policy_id}@{c.policy_version}",
            state=c.state,
            outcome=outcome(c.state, c.closure_reason),
            external_ref=c.external_ref,
        )
        parts.append(item({"id": c.id, "type": "case", "attributes": [{**a, "time": at} for a in values]}))
    for d in deadline_rows(connection, which):
        at = d[3].isoformat()
        values = [{"name": "kind", "value": d.kind, "time": at}, {"name": "due", "value": str(d.due), "time": at}]
        oid = _deadline_id(d.case_id, d.kind, str(d.due))
        parts.append(item({"id": oid, "type": "deadline", "attributes": values}))
        if len(parts) >= CHUNK:
            yield "".join(parts)
            parts.clear()
    for name in handler_names(connection, which):
        parts.append(item({"id": f"handler:{name}", "type": "handler", "attributes": []}))
    yield "".join(parts) + "\n], \"events\": [\n"
    parts.clear()
    types: set[str] = set()
    first = True
    n = 0
    for row in event_rows(connection, which):
        name = activity(row.name, row.data)
        types.add(name)
        links = [{"objectId": row.case_id, "qualifier": "case"}]
        if row.name == DEADLINE_PASSED:
            links.append({"objectId": _deadline_id(row.case_id, row.data["deadline"], row.data["due"]),
                          "qualifier": "passed"})
        elif row.name == "acknowledge" and row.data.get("handler"):
            links.append({"objectId": f"handler:{row.data['handler']}", "qualifier": "handled by"})
        values = _attrs(resource=row.actor, state_before=row.state_before, state_after=row.state_after)
        parts.append(item({"id": str(row.id), "type": name, "time": row.occurred_at.isoformat(),
                           "attributes": values, "relationships": links}))
        n += 1
        if n % CHUNK == 0:
            yield "".join(parts)
            parts.clear()
            tick(CHUNK)
    tail = [{"name": t, "attributes": event_attrs} for t in sorted(types)]
    yield "".join(parts) + "\n], \"eventTypes\": " + dump(tail) + "}\n"
    tick(n % CHUNK)


def _deadline_id(case_id: str, kind: str, due: str) -> str:
    return f"{case_id}/{kind}/{due}"
