"""Benchmark: the TSM for a year and the KPIs for a month over 1,000,000 cases, SQLite and PostgreSQL.

    .venv/bin/python bench/reports.py [--cases 1000000] [--sqlite PATH] [--pg-url URL | --no-postgres]

The store is generated here by bulk inserts (sqlite3 ``executemany``, PostgreSQL
``COPY``), not through the service: cases received from January 2025 to June
2026 under code_2024, b3living, brighter_places and livin, each with the events
and deadline rows the engine would write for its path (formal or informal
start, acknowledgement, a response on time or late, extensions, escalation,
stage 2, closure, Ombudsman referral). Then ANALYZE, and timed:

- ``tsm``: ReportService.tsm(2025) (1 April 2025 to 31 March 2026);
- ``kpi``: ReportService.kpi("2025-11"), and for one policy;
- ``baseline``: a bare count of the year's events by name (the scan every
  report needs at least), to give a ratio measured in the same run.

Target: each report under 10 s. PostgreSQL: ``--pg-url``, or a throwaway
cluster as the tests start one (tests/pg_server.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.progress import Progress  # noqa: E402
from service.reports import ReportService, reporting_year  # noqa: E402
from storage.database import make_engine, upgrade  # noqa: E402
from storage.tables import cases, deadlines, events  # noqa: E402
from workflow.calendar import WorkingCalendar, breach_instant, local_date  # noqa: E402
from workflow.catalog import shipped  # noqa: E402

CAL = WorkingCalendar()
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_S = int((datetime(2026, 7, 1, tzinfo=UTC) - START).total_seconds())
POLICIES = (("code_2024", 1, 0.55), ("b3living", 2, 0.15), ("brighter_places", 1, 0.15), ("livin", 1, 0.15))
CHANNELS = ("phone", "email", "web", "letter", "in_person")
LETTER = {"decision": "upheld", "reasons": "r", "remedy": "x", "outstanding_actions": "none", "escalation_route": "e"}
CHUNK = 20_000

CASE_COLS = [c.name for c in cases.c]
EVENT_COLS = [c.name for c in events.c if c.name != "id"]
DEADLINE_COLS = [c.name for c in deadlines.c]
# Columns other revisions add (the hash chain): a filler of the right shape, so rows insert whatever the schema.
EVENT_FILLERS = {c.name: "0" * 64 for c in events.c if c.name not in {
    "id", "case_id", "seq", "name", "data", "occurred_at", "recorded_at", "actor", "policy_id", "policy_version",
    "state_before", "state_after"}}  # fmt: skip


# Indexes the reports want beyond migration 0001's (migration 0003; docs/design.md, Reports benchmark).
REPORT_INDEXES = (
    # every event-side report query is a range of this index, and reads no event row (covering)
    sa.Index("ix_events_report", events.c.name, events.c.state_before, events.c.occurred_at, events.c.state_after,
             events.c.case_id, events.c.seq, events.c.policy_id, events.c.policy_version),
    # a case's events in order with what open-case ages read: the state at an instant, index-only
    sa.Index("ix_events_case_history", events.c.case_id, events.c.seq, events.c.occurred_at, events.c.state_before,
             events.c.state_after, events.c.name, events.c.policy_id, events.c.policy_version),
    sa.Index("ix_cases_state_updated", cases.c.state, cases.c.updated_at, cases.c.opened_at, cases.c.policy_id,
             cases.c.policy_version),
    sa.Index("ix_cases_updated_opened", cases.c.updated_at, cases.c.opened_at),
    sa.Index("ix_deadlines_report", deadlines.c.status, deadlines.c.kind, deadlines.c.case_id, deadlines.c.breach_at),
)  # fmt: skip


def create_report_indexes(engine: sa.Engine) -> None:
    for index in REPORT_INDEXES:
        index.create(engine, checkfirst=True)


@cache
def wd(day: date, n: int) -> date:
    return CAL.add_working_days(day, n)


class CaseWriter:
    """Builds one case's rows: events in order, deadlines with their final status."""

    def __init__(self, case_id: str, policy: str, version: int) -> None:
        self.id, self.policy, self.version = case_id, policy, version
        self.events: list[dict[str, Any]] = []
        self.deadlines: list[dict[str, Any]] = []
        self.state = "new"
        self.closure: str | None = None

    def event(self, name: str, at: datetime, after: str, data: dict[str, Any] | None = None) -> int:
        seq = len(self.events) + 1
        self.events.append({
            "case_id": self.id, "seq": seq, "name": name, "data": data or {}, "occurred_at": at, "recorded_at": at,
            "actor": "bench", "policy_id": self.policy, "policy_version": self.version, "state_before": self.state,
            "state_after": after, **EVENT_FILLERS,
        })  # fmt: skip
        self.state = after
        return seq

    def deadline(self, kind: str, stage: int, due: date, opened: int) -> dict[str, Any]:
        row = {
            "case_id": self.id, "number": len(self.deadlines) + 1, "kind": kind, "stage": stage, "due": due,
            "breach_at": breach_instant(due), "status": "open", "opened_seq": opened, "closed_seq": None,
        }  # fmt: skip
        self.deadlines.append(row)
        return row

    def settle(self, row: dict[str, Any], at: datetime, seq_if_met: Callable[[], int]) -> None:
        """Meet ``row`` with the event ``seq_if_met`` writes at ``at``, or record its breach first."""
        if at >= row["breach_at"]:
            row["status"] = "passed"
            row["closed_seq"] = self.event(
                "deadline_passed",
                row["breach_at"],
                self.state,
                {"deadline": row["kind"], "due": row["due"].isoformat()},
            )
            seq_if_met()
        else:
            row["status"], row["closed_seq"] = "met", seq_if_met()


def build_case(n: int, rng: random.Random, received_at: datetime) -> CaseWriter:
    pick = rng.random()
    chosen = POLICIES[-1]
    for entry in POLICIES:
        pick -= entry[2]
        if pick <= 0:
            chosen = entry
            break
    policy_id, version = chosen[0], chosen[1]
    w = CaseWriter(f"c{n:08d}", policy_id, version)
    t = received_at
    channel = rng.choice(CHANNELS)
    day = local_date(t)
    received = {"incident_date": (day - timedelta(days=10)).isoformat(), "channel": channel}
    informal = policy_id in ("livin", "brighter_places") and rng.random() < 0.4
    if informal:
        seq = w.event("receive", t, "stage_0", received)
        inf = w.deadline("informal_response", 0, wd(day, 5), seq)
        if rng.random() < 0.5:
            end = t + timedelta(days=rng.choice((1, 2, 3, 9)))
            w.settle(inf, end, lambda: w.event("resolve_informally", end, "closed"))
            w.closure = "resolved_informally"
            return w
        t = t + timedelta(days=rng.choice((1, 2, 3)))
        w.settle(inf, t, lambda: w.event("log_formal", t, "stage_1", {"requested_by": "customer"}))
        day = local_date(t)
        start_seq = len(w.events)
    else:
        start_seq = w.event("receive", t, "stage_1", {**received, "formal": True})
    for stage in (1, 2):
        ack = w.deadline(f"stage_{stage}_acknowledgement", stage, wd(day, 5), start_seq)
        t_ack = t + timedelta(days=rng.choice((0, 1, 1, 2, 3, 4, 9)), hours=rng.randrange(8))
        if stage == 1 and rng.random() < 0.03:  # still waiting: open at the end of the data
            if t_ack >= ack["breach_at"]:
                w.settle(ack, t_ack, lambda: len(w.events))
                ack["status"] = "passed"
            return w
        accepted = "stage_2" if stage == 2 else w.state
        w.settle(ack, t_ack, lambda: w.event("acknowledge", t_ack, accepted, {"handler": "h"}))  # noqa: B023
        resp = w.deadline(f"stage_{stage}_response", stage, wd(local_date(t_ack), 10 * stage), len(w.events))
        if rng.random() < 0.06:  # an extension within the cap
            t_ext = t_ack + timedelta(days=rng.choice((3, 6, 9)))
            new_due = wd(resp["due"], 10 if policy_id != "livin" or rng.random() < 0.5 else 30)
            if t_ext < resp["breach_at"]:
                resp["status"] = "replaced"
                ext_state = f"stage_{stage}_extended"
                seq = w.event("extend", t_ext, ext_state, {"new_due": new_due.isoformat(), "reason": "survey"})
                resp["closed_seq"] = seq
                resp = w.deadline(f"stage_{stage}_response", stage, new_due, seq)
        t_resp = t_ack + timedelta(days=rng.choice((2, 5, 8, 12, 13, 16, 25 * stage)), hours=rng.randrange(8))
        after = "stage_1_responded" if stage == 1 else "closed"
        w.settle(resp, t_resp, lambda: w.event("respond", t_resp, after, LETTER))  # noqa: B023
        if stage == 2:
            w.closure = "final_response"
            if rng.random() < 0.2:
                w.event("refer_to_ombudsman", t_resp + timedelta(days=3), "ombudsman_referred")
            return w
        if rng.random() > 0.2:
            t_close = t_resp + timedelta(days=rng.choice((1, 2, 5)))
            w.event("close", t_close, "closed", {"summary": "done"})
            w.closure = "stage_1_final"
            return w
        t = t_resp + timedelta(days=rng.choice((1, 3, 7)))
        day = local_date(t)
        start_seq = w.event("request_escalation", t, "stage_2_requested", {"requested_by": "customer"})
    return w


def _extended(w: CaseWriter, d: dict[str, Any]) -> bool:
    return w.events[d["opened_seq"] - 1]["name"] == "extend"


def _original_due(w: CaseWriter, d: dict[str, Any]) -> str | None:
    """A response date's due before any extension (the replaced date before it), as the engine keeps it."""
    if not d["kind"].endswith("_response"):
        return None
    if not _extended(w, d):
        return d["due"].isoformat()
    earlier = [x for x in w.deadlines if x["kind"] == d["kind"] and x["number"] < d["number"]]
    return earlier[-1]["due"].isoformat() if earlier else d["due"].isoformat()


def case_row(w: CaseWriter) -> dict[str, Any]:
    first, last = w.events[0]["occurred_at"], w.events[-1]["occurred_at"]
    snapshot = {
        "id": w.id, "policy_id": w.policy, "policy_version": w.version, "state": w.state, "version": len(w.events),
        "closure_reason": w.closure, "opened_at": first.isoformat(), "last_occurred_at": last.isoformat(),
        "deadlines": [
            {"number": d["number"], "kind": d["kind"], "due": d["due"].isoformat(), "stage": d["stage"],
             "opened_seq": d["opened_seq"], "status": d["status"], "closed_seq": d["closed_seq"],
             "extended": _extended(w, d), "original_due": _original_due(w, d)}
            for d in w.deadlines
        ],
    }  # fmt: skip
    breaches = sum(1 for d in w.deadlines if d["status"] == "passed")
    return {
        "id": w.id, "policy_id": w.policy, "policy_version": w.version, "state": w.state,
        "closure_reason": w.closure, "version": len(w.events), "opened_at": first, "updated_at": last,
        "breach_count": breaches, "snapshot": snapshot,
    }  # fmt: skip


def chunks(total: int, seed: int = 7) -> Iterator[tuple[list[dict], list[dict], list[dict]]]:
    """Cases in the order they were received, each chunk's events in time order: an append-only log's layout."""
    rng = random.Random(seed)
    receipts = sorted(START + timedelta(seconds=rng.randrange(SPAN_S)) for _ in range(total))
    for start in range(0, total, CHUNK):
        built = [build_case(n, rng, receipts[n]) for n in range(start, min(total, start + CHUNK))]
        yield (
            [case_row(w) for w in built],
            sorted((e for w in built for e in w.events), key=lambda e: e["occurred_at"]),
            [d for w in built for d in w.deadlines],
        )


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict):
        return json.dumps(v)
    return v


def _filled(cols: list[str], batch: list[dict[str, Any]]) -> list[str]:
    """The columns the generated rows give: later revisions' columns (external_ref, txid) keep their defaults."""
    return [c for c in cols if not batch or c in batch[0]]


def load_sqlite(path: str, total: int) -> None:
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=OFF")
    with Progress("loading sqlite", total=total, unit="cases") as progress:
        for rows in chunks(total):
            for table, cols, batch in zip(
                ("cases", "events", "deadlines"), (CASE_COLS, EVENT_COLS, DEADLINE_COLS), rows, strict=True
            ):
                cols = _filled(cols, batch)
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                raw.executemany(sql, [tuple(_sqlite_value(r[c]) for c in cols) for r in batch])
            raw.commit()
            progress.advance(len(rows[0]), events=len(rows[1]))
    raw.close()


def _pg_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None)
    if isinstance(v, dict):
        return json.dumps(v)
    return v


def load_postgres(engine: sa.Engine, total: int) -> None:
    with engine.connect() as connection, Progress("loading postgres", total=total, unit="cases") as progress:
        raw = connection.connection.driver_connection
        for rows in chunks(total):
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                for table, cols, batch in zip(
                    ("cases", "events", "deadlines"), (CASE_COLS, EVENT_COLS, DEADLINE_COLS), rows, strict=True
                ):
                    cols = _filled(cols, batch)
                    with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for r in batch:
                            copy.write_row([_pg_value(r[c]) for c in cols])
            raw.commit()  # type: ignore[union-attr]
            progress.advance(len(rows[0]), events=len(rows[1]))


def _index_and_analyze(engine: sa.Engine) -> None:
    create_report_indexes(engine)
    if engine.dialect.name == "postgresql":  # VACUUM sets the visibility map, so index-only scans stay index-only
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
        return
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
        connection.commit()


def timed(label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = fn()
    took = time.perf_counter() - began
    print(f"  {label:<28} {took:8.2f} s", flush=True)
    return took, result


def measure(engine: sa.Engine, name: str) -> dict[str, float]:
    reports = ReportService(engine, shipped())
    start, end = reporting_year(2025)

    def baseline() -> Any:
        with engine.connect() as c:
            query = sa.select(events.c.name, sa.func.count()).where(
                events.c.occurred_at >= start, events.c.occurred_at < end
            )
            return c.execute(query.group_by(events.c.name)).all()

    with engine.connect() as c:
        counts = {
            t.name: c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (cases, events, deadlines)
        }
    print(f"{name}: {counts}", flush=True)
    base, _ = timed("baseline (events by name)", baseline)
    tsm_s, tsm = timed("tsm 2025/26", lambda: reports.tsm(2025, 250_000))
    kpi_s, kpi = timed("kpi 2025-11", lambda: reports.kpi("2025-11"))
    kpi_p, _ = timed("kpi 2025-11 --policy livin", lambda: reports.kpi("2025-11", "livin"))
    kpi_last, _ = timed("kpi 2026-06 (latest month)", lambda: reports.kpi("2026-06"))
    print(f"  CH01 {json.dumps(tsm['CH01'])}\n  CH02 {json.dumps(tsm['CH02'])}")
    print(f"  kpi received {kpi['received']}, responses {kpi['responses']}, open {kpi['open_cases']['total']}")
    ok = max(tsm_s, kpi_s, kpi_p, kpi_last) < 10
    verdict = "met" if ok else "MISSED"
    print(f"  ratio tsm/baseline {tsm_s / base:.1f}, kpi/baseline {kpi_s / base:.1f}; target < 10 s: {verdict}")
    return {"baseline": base, "tsm": tsm_s, "kpi": kpi_s, "kpi_policy": kpi_p}


def store_arguments(parser: argparse.ArgumentParser, cases: int, name: str) -> None:
    """The options every benchmark over a loaded store takes: its size and which backends."""
    parser.add_argument("--cases", type=int, default=cases)
    parser.add_argument("--sqlite", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}.db"))
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")


def on_each_backend(args: argparse.Namespace, measure: Callable[[sa.Engine, str], Any]) -> int:
    """Load ``args.cases`` cases into a fresh SQLite file and a throwaway PostgreSQL, and ``measure`` each.

    One loop so that every store benchmark (reports, work list) builds and indexes its store the same way.
    """
    if not args.no_sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(args.sqlite + suffix).unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{args.sqlite}")
        upgrade(engine)
        engine.dispose()
        timed(f"load sqlite ({args.cases} cases)", lambda: load_sqlite(args.sqlite, args.cases))
        engine = make_engine(f"sqlite:///{args.sqlite}")
        timed("report indexes + ANALYZE", lambda: _index_and_analyze(engine))
        measure(engine, "sqlite")
        engine.dispose()
    if args.no_postgres:
        return 0
    server = None
    url = args.pg_url
    if url is None:
        from tests.pg_server import PgServer

        server = PgServer.start()
        url = server.make_database()
    try:
        engine = make_engine(url)
        upgrade(engine)
        timed(f"load postgres ({args.cases} cases)", lambda: load_postgres(engine, args.cases))
        timed("report indexes + ANALYZE", lambda: _index_and_analyze(engine))
        measure(engine, "postgresql")
        engine.dispose()
    finally:
        if server is not None:
            server.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    store_arguments(parser, 1_000_000, "bench_reports")
    return on_each_backend(parser.parse_args(), measure)


if __name__ == "__main__":
    sys.exit(main())
