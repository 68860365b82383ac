"""storage/driver_rows.py: a statement run with plain tuples stores exactly what SQLAlchemy's execute stores.

Each statement the store runs through ``DriverStatement`` (the events insert, the snapshot update, the
timers' claim) is run both ways on twin rows, and the stored columns are compared as the database keeps
them (text on SQLite; the JSON column's text on PostgreSQL), on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storage import case_rows, firing_rows
from storage.database import make_engine, upgrade
from storage.driver_rows import DriverStatement
from storage.tables import cases, deadlines, events
from workflow.calendar import LONDON

AT = datetime(2027, 3, 1, 9, 30, 12, 345678, tzinfo=UTC)
LOCAL = datetime(2027, 7, 1, 0, 0, tzinfo=LONDON)  # British Summer Time: stored as 23:00 UTC the day before
DATA = {"deadline": "informal_response", "note": "Ça coûte £5 — “quoted”", "nested": {"b": [1, None, True], "a": 2}}
SNAPSHOT = {"id": "x", "deadlines": [{"number": 1, "due": "2027-03-02", "closed_seq": None}], "breaches": []}


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as c:
        for case_id in ("sa", "driver"):
            c.execute(
                sa.insert(cases),
                {
                    "id": case_id,
                    "policy_id": "p",
                    "policy_version": 1,
                    "state": "new",
                    "version": 1,
                    "opened_at": AT,
                    "updated_at": AT,
                    "snapshot": {},
                },
            )
            c.execute(
                sa.insert(deadlines),
                {
                    "case_id": case_id,
                    "number": 1,
                    "kind": "informal_response",
                    "stage": 0,
                    "due": AT.date(),
                    "breach_at": AT,
                    "status": "open",
                    "opened_seq": 1,
                },
            )
    yield engine
    engine.dispose()


def stored(engine: sa.Engine, table: str, case_column: str, columns: list[str]) -> dict[str, tuple]:
    """The rows as the database keeps them, without SQLAlchemy's result processing, by case id."""
    postgres = engine.dialect.name == "postgresql"
    shown = ", ".join(f"CAST({c} AS TEXT)" if postgres else c for c in columns)
    with engine.connect() as c:
        rows = c.exec_driver_sql(f"SELECT {case_column}, {shown} FROM {table} ORDER BY {case_column}").all()
    return {row[0]: tuple(row[1:]) for row in rows}


def event_row(case_id: str, seq: int, occurred_at: datetime) -> dict:
    return {
        "case_id": case_id,
        "seq": seq,
        "name": "deadline_passed",
        "data": DATA,
        "occurred_at": occurred_at,
        "recorded_at": AT,
        "actor": "scheduler",
        "policy_id": "p",
        "policy_version": 1,
        "state_before": "stage_0",
        "state_after": "stage_0",
        "prev_hash": "0" * 64,
        "hash": f"{seq:064d}",
    }


def test_event_inserts_store_the_same_columns(engine: sa.Engine) -> None:
    keys = case_rows.EVENT_KEYS
    with engine.begin() as c:
        c.execute(case_rows.INSERT_EVENTS, [event_row("sa", 2, AT), event_row("sa", 3, LOCAL)])  # executemany
        c.execute(case_rows.INSERT_EVENTS, event_row("sa", 4, AT))  # one row
        rows = [event_row("driver", 2, AT), event_row("driver", 3, LOCAL)]
        assert case_rows.INSERT_EVENT_ROWS.execute(c, [tuple(r[k] for k in keys) for r in rows]) == 2
        one = event_row("driver", 4, AT)
        assert case_rows.INSERT_EVENT_ROWS.execute(c, [tuple(one[k] for k in keys)]) == 1
    columns = [k for k in keys if k != "case_id"]
    postgres = engine.dialect.name == "postgresql"
    shown = ", ".join(f"CAST({c} AS TEXT)" if postgres else c for c in columns)
    with engine.connect() as c:
        got = c.exec_driver_sql(f"SELECT case_id, {shown}, txid FROM events ORDER BY case_id, seq").all()
    by_case = {"sa": [r[1:] for r in got if r[0] == "sa"], "driver": [r[1:] for r in got if r[0] == "driver"]}
    assert len(by_case["sa"]) == 3
    assert by_case["driver"] == by_case["sa"]
    assert (got[0][-1] is not None) == postgres  # the feed's txid: the server's default, on PostgreSQL only
    with engine.connect() as c:  # read back through the table's types: the same values went in
        back = c.execute(sa.select(events.c.data, events.c.occurred_at).where(events.c.case_id == "driver")).all()
    assert [tuple(r) for r in back] == [(DATA, AT), (DATA, LOCAL), (DATA, AT)]


def test_snapshot_updates_store_the_same_columns_and_count_rows(engine: sa.Engine) -> None:
    values = {
        "state": "stage_0",
        "closure_reason": None,
        "version": 2,
        "updated_at": LOCAL,
        "breach_count": 1,
        "snapshot": SNAPSHOT,
        "b_version": 1,
    }
    with engine.begin() as c:
        assert c.execute(case_rows.SAVE, {**values, "b_id": "sa"}).rowcount == 1
        order = case_rows.SAVE_ROWS.keys
        row = tuple({**values, "b_id": "driver"}[k] for k in order)
        assert case_rows.SAVE_ROWS.execute(c, [row]) == 1
        assert case_rows.SAVE_ROWS.execute(c, [row, row]) == 0  # guarded by the version read: now 2
    columns = ["state", "closure_reason", "version", "updated_at", "breach_count", "snapshot"]
    got = stored(engine, "cases", "id", columns)
    assert got["driver"] == got["sa"]


def test_claims_use_the_statements_constants(engine: sa.Engine) -> None:
    with engine.begin() as c:
        assert c.execute(firing_rows._CLAIM, [{"c_case": "sa", "c_number": 1, "c_seq": 2}]).rowcount == 1
        assert firing_rows._CLAIM_ROWS.execute(c, [("driver", 1, 2), ("driver", 9, 2)]) == 1
        assert firing_rows._CLAIM_ROWS.execute(c, [("driver", 1, 3)]) == 0  # no longer open
    got = stored(engine, "deadlines", "case_id", ["status", "closed_seq"])
    assert got["driver"] == got["sa"] == (("passed", "2") if engine.dialect.name == "postgresql" else ("passed", 2))


def test_a_key_that_is_not_a_parameter_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as c, pytest.raises(ValueError, match="not parameters"):
        DriverStatement(firing_rows._CLAIM, ("c_case", "c_number", "c_seq", "nope")).execute(c, [("a", 1, 2, 3)])
    with engine.begin() as c, pytest.raises(ValueError, match="neither a key nor a constant"):
        DriverStatement(firing_rows._CLAIM, ("c_case", "c_number")).execute(c, [("a", 1)])
