"""The work list: what a complaints team owes, in due order, with the working days left.

``GET /work``, ``complaints work`` and the console all come here. The
obligations (never the customer's windows) come from storage/work_queries.py
in SQL; the only per-row work in Python is the working-days count, done with
the calendar of the case's own policy version (closure days included) from
"today", the Europe/London date of the injected clock, and memoized per
(calendar, due date) because a page shares few dates.

Bad input is ``invalid_data`` naming the field (422 over HTTP, exit 2 on the
CLI): a date that is not YYYY-MM-DD, an unknown kind (or a window), policy or
state, a limit outside 1-500, a negative offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from storage.work_queries import WorkFilter, WorkRow, count_work, find_work
from workflow.calendar import WorkingCalendar, local_date
from workflow.case import PASSED
from workflow.catalog import Catalog
from workflow.errors import ComplaintsError, UnknownPolicy
from workflow.vocabulary import STATES, WINDOWS
from workflow.worklist import OBLIGATIONS, working_days_left

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidWorkQuery(ComplaintsError):
    """A work-list filter that does not read: ``invalid_data`` with the field and why (like EventRefused)."""

    code = "invalid_data"

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.details = {field: why}


@dataclass(frozen=True)
class WorkQuery:
    """Which obligations. ``due_before`` is exclusive (``due < due_before``); ``policy`` is ID or ID@VERSION."""

    due_before: date | None = None
    kind: str | None = None
    handler: str | None = None
    policy: str | None = None
    state: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class WorkItem:
    """One owed obligation. ``breached``: its breach instant has passed (recorded, or due to be)."""

    case_id: str
    policy_id: str
    policy_version: int
    kind: str
    stage: int
    due: date
    breach_at: datetime
    state: str
    handler: str | None
    working_days_left: int
    breached: bool
    number: int = 0  # the deadline's number on its case (the last sort key)

    def to_dict(self) -> dict[str, object]:
        return {
            "case_id": self.case_id,
            "number": self.number,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "kind": self.kind,
            "stage": self.stage,
            "due": self.due.isoformat(),
            "breach_at": self.breach_at.isoformat(),
            "state": self.state,
            "handler": self.handler,
            "working_days_left": self.working_days_left,
            "breached": self.breached,
        }


@dataclass(frozen=True)
class WorkPage:
    items: list[WorkItem]
    total: int
    limit: int
    offset: int
    today: date | None = None  # the London date the working days are counted from

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    def to_dict(self) -> dict[str, object]:
        """The page as ``GET /work`` and ``complaints work --json`` answer it."""
        return {
            "items": [i.to_dict() for i in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "next_offset": self.next_offset,
            "today": self.today.isoformat() if self.today else None,
        }


def parse_date(field: str, text: str | None) -> date | None:
    """A YYYY-MM-DD date from a query string or a command line, else ``invalid_data`` naming ``field``."""
    if text is None or text == "":
        return None
    try:
        if _DATE.fullmatch(text.strip()):
            return date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise InvalidWorkQuery(field, f"{text!r} is not a date (YYYY-MM-DD)")


def work_filter(query: WorkQuery, catalog: Catalog) -> WorkFilter:
    """Check every field (the first bad one is named) and resolve the policy."""
    if query.kind is not None and query.kind not in OBLIGATIONS:
        if query.kind in WINDOWS:
            raise InvalidWorkQuery("kind", f"{query.kind} is the customer's window, not an obligation")
        raise InvalidWorkQuery("kind", f"unknown kind {query.kind!r}; obligations are: {', '.join(OBLIGATIONS)}")
    if query.state is not None and query.state not in STATES:
        raise InvalidWorkQuery("state", f"unknown state {query.state!r}; states are: {', '.join(STATES)}")
    if query.handler is not None and not (0 < len(query.handler.strip()) <= 200):
        raise InvalidWorkQuery("handler", "a handler's name: 1 to 200 characters, not blank")
    if isinstance(query.limit, bool) or not isinstance(query.limit, int) or not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidWorkQuery("limit", f"a whole number from 1 to {MAX_LIMIT}, got {query.limit!r}")
    if isinstance(query.offset, bool) or not isinstance(query.offset, int) or not 0 <= query.offset <= MAX_OFFSET:
        raise InvalidWorkQuery("offset", f"a whole number from 0 to {MAX_OFFSET}, got {query.offset!r}")
    policy_id = policy_version = None
    if query.policy is not None:
        try:
            chosen = catalog.resolve(query.policy)
        except UnknownPolicy as err:
            raise InvalidWorkQuery("policy", err.detail) from None
        policy_id, policy_version = chosen.id, (chosen.version if "@" in query.policy else None)
    return WorkFilter(query.due_before, query.kind, query.handler, policy_id, policy_version, query.state)


def work_page(connection: sa.Connection, catalog: Catalog, query: WorkQuery, now: datetime) -> WorkPage:
    """One page of the work list as of ``now`` (the service's clock)."""
    chosen = work_filter(query, catalog)
    today = local_date(now)
    total = count_work(connection, chosen)
    rows = find_work(connection, chosen, query.limit, query.offset) if query.offset < total else []
    left: dict[tuple[WorkingCalendar, date], int] = {}
    items = []
    for r in rows:
        calendar = _calendar(catalog, r)
        key = (calendar, r.due)
        if key not in left:
            left[key] = working_days_left(calendar, today, r.due)
        items.append(_item(r, left[key], r.status == PASSED or today > r.due))
    return WorkPage(items, total, query.limit, query.offset, today)


def _calendar(catalog: Catalog, row: WorkRow) -> WorkingCalendar:
    try:
        return catalog.get(row.policy_id, row.policy_version).calendar
    except UnknownPolicy:  # a case under a policy this process does not ship: England and Wales days alone
        return WorkingCalendar()


def _item(r: WorkRow, days_left: int, breached: bool) -> WorkItem:
    return WorkItem(
        r.case_id, r.policy_id, r.policy_version, r.kind, r.stage, r.due, r.breach_at, r.state, r.handler,
        days_left, breached, r.number,
    )  # fmt: skip
