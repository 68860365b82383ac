"""The hash chain on SQLite and PostgreSQL: written with every event, and built for old histories by migration 0002."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from api.bootstrap import Settings, bootstrap
from storage.database import make_engine, upgrade
from storage.tables import cases, deadlines, events
from workflow.audit.canonical import GENESIS, row_hash
from workflow.clock import ManualClock

START = datetime(2026, 12, 18, 10, tzinfo=UTC)
RECEIVE = {"channel": "phone", "incident_date": "2026-12-10", "formal": True}
ACK = {"handler": "amy", "handler_role": "manager", "complaint_definition": "Boiler", "outcomes_sought": "Repair"}


def _make_cases(db_url: str) -> None:
    clock = ManualClock(START)
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    for n in range(3):
        case_id = f"case-{n}"
        app.service.open_case("b3living", RECEIVE, case_id=case_id, actor="crm")
        clock.advance(timedelta(days=1, minutes=7))
        app.service.apply(case_id, "acknowledge", ACK, actor="crm")
    clock.advance(timedelta(days=30))  # every stage 1 response passes: breaches written by fire_due
    app.service.fire_due()
    app.engine.dispose()


def _chains(engine: sa.Engine) -> dict[str, list[tuple[int, str, str]]]:
    out: dict[str, list[tuple[int, str, str]]] = {}
    with engine.connect() as c:
        for row in c.execute(sa.select(events).order_by(events.c.case_id, events.c.seq)):
            assert row.hash == row_hash(row), f"{row.case_id} seq {row.seq}"
            out.setdefault(row.case_id, []).append((row.seq, row.prev_hash, row.hash))
    return out


def test_every_written_event_is_chained_to_the_one_before(db_url: str) -> None:
    _make_cases(db_url)
    engine = make_engine(db_url)
    chains = _chains(engine)
    engine.dispose()
    assert len(chains) == 3
    for chain in chains.values():
        assert [seq for seq, _, _ in chain] == list(range(1, len(chain) + 1))
        assert len(chain) >= 3  # receive, acknowledge, a breach
        assert chain[0][1] == GENESIS
        assert all(later[1] == earlier[2] for earlier, later in zip(chain, chain[1:], strict=False))


def test_migration_0002_chains_histories_written_before_it(db_url: str, tmp_path) -> None:
    source_url = f"sqlite:///{tmp_path}/source.db"
    _make_cases(source_url)
    source = make_engine(source_url)
    expected = _chains(source)

    target = make_engine(db_url)
    upgrade(target, "0001")
    with target.connect() as c:  # the columns each table had at 0001; later migrations add the rest
        present = {
            t.name: {col["name"] for col in sa.inspect(c).get_columns(t.name)} for t in (cases, deadlines, events)
        }
    with source.connect() as read, target.begin() as write:
        for table in (cases, deadlines, events):
            old = sa.table(
                table.name, *(sa.column(col.name, col.type) for col in table.c if col.name in present[table.name])
            )
            rows = [dict(r._mapping) for r in read.execute(sa.select(*old.c))]
            write.execute(sa.insert(old), rows)
    upgrade(target)
    assert _chains(target) == expected
    with target.connect() as c:
        columns = {col["name"]: col for col in sa.inspect(c).get_columns("events")}
    assert not columns["hash"]["nullable"] and not columns["prev_hash"]["nullable"]
    source.dispose()
    target.dispose()
