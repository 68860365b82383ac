"""Benchmark: `complaints verify` of a whole store against a bare SELECT of the same rows, on an SQLite file.

    .venv/bin/python bench/replay.py [--cases 100000] [--jobs N] [--keep PATH] [--parts reads,one,many,checkpoint]

Builds a store of N cases of about 8 events each: a few template histories
are written through the real service (so they are valid under their policy),
then cloned under new case ids by bulk insert, each clone's hash chain
recomputed. Then, in the same run:

- bare read: ``SELECT`` of every case, event and deadline row through the
  same engine and column types (reading alone, nothing checked);
- verify with one process, and with ``--jobs`` worker processes;
- (``--parts ...,checkpoint``) a first ``verify --checkpoint`` run, which also
  records each case, and the nightly run after it, with nothing changed.

Prints events/s for each and the ratio verify / bare read. Targets (issue 5):
>= 50,000 events/s and >= 0.3 of the bare read rate.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.bootstrap import Settings, bootstrap  # noqa: E402
from api.progress import Progress  # noqa: E402
from service.audit import AuditService, VerifyReport  # noqa: E402
from service.audit.checkpoint import Checkpoint  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from storage.audit_reads import case_ids, load_range  # noqa: E402
from storage.database import make_engine  # noqa: E402
from storage.tables import cases, deadlines, events  # noqa: E402
from workflow.audit.canonical import GENESIS, HASHED_FIELDS, event_hash  # noqa: E402
from workflow.clock import ManualClock  # noqa: E402

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)  # a Monday
ACK_1 = {"handler": "ben", "handler_role": "director", "complaint_definition": "Damp", "outcomes_sought": "Fix"}
ACK_2 = {"handler": "cara", "handler_role": "director", "complaint_definition": "Damp", "handler_department": "exec"}
LETTER = {
    "decision": "upheld",
    "reasons": "late",
    "remedy": "repair",
    "outstanding_actions": "none",
    "escalation_route": "stage 2",
    "ombudsman_info": "HOS",
}
ESCALATE = {"requested_by": "customer", "reasons": "not fixed"}
EXTEND = {"reason": "survey", "customer_agreed": True, "ombudsman_details_given": True}
# (policy, receive data, [(event, data, days after the previous step)])
TEMPLATES: list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any], int]]]] = [
    (
        "code_2024",
        {"incident_date": "2027-01-01", "formal": True, "channel": "email"},
        [
            ("acknowledge", ACK_1, 2),
            ("add_issue", {"description": "mould too"}, 3),
            ("extend", {**EXTEND, "new_due": "2027-01-29"}, 5),
            ("respond", LETTER, 10),
            ("request_escalation", ESCALATE, 3),
            ("acknowledge", ACK_2, 2),
            ("respond", LETTER, 12),
        ],
    ),
    (
        "livin",
        {"incident_date": "2027-01-01", "formal": True, "channel": "phone"},
        [
            ("acknowledge", ACK_1, 4),  # late: the 2 WD acknowledgement is breached first
            ("record_update", {"summary": "surveyed"}, 6),
            ("add_issue", {"description": "fence"}, 1),
            ("respond", LETTER, 5),
            ("request_escalation", ESCALATE, 3),
            ("acknowledge", ACK_2, 4),
        ],
    ),
    (
        "b3living",
        {"incident_date": "2027-01-01", "formal": True, "channel": "web"},
        [
            ("acknowledge", {**ACK_1, "handler_role": "manager"}, 3),
            ("add_issue", {"description": "noise"}, 2),
            ("respond", LETTER, 6),
            ("request_escalation", ESCALATE, 10),
            ("acknowledge", ACK_2, 3),
            ("respond", LETTER, 15),
            ("refer_to_ombudsman", {}, 2),
        ],
    ),
]


def templates(url: str) -> list[str]:
    clock = ManualClock(T0)
    app = bootstrap(Settings(db_url=url), clock=clock)
    ids = []
    for n, (policy, receive, steps) in enumerate(TEMPLATES):
        clock = ManualClock(T0)
        app.service.clock = clock
        case_id = f"template-{n}"
        app.service.open_case(policy, receive, case_id=case_id, actor="bench")
        for event, data, days in steps:
            clock.advance(timedelta(days=days))
            app.service.apply(case_id, event, data, actor="bench")
        ids.append(case_id)
    report = AuditService(app.engine, app.catalog).verify(jobs=1)
    assert report.ok, [p.line() for p in report.problems]
    app.engine.dispose()
    return ids


def build(url: str, n_cases: int) -> int:
    """Clone the templates into ``n_cases`` cases by bulk insert; returns the number of events."""
    with tempfile.TemporaryDirectory() as tmp:
        source = make_engine(f"sqlite:///{tmp}/templates.db")
        templates(f"sqlite:///{tmp}/templates.db")
        with source.connect() as c:
            shapes = []
            for row in c.execute(sa.select(cases).order_by(cases.c.id)):
                evs = [dict(r._mapping) for r in c.execute(sa.select(events).where(events.c.case_id == row.id))]
                dls = [dict(r._mapping) for r in c.execute(sa.select(deadlines).where(deadlines.c.case_id == row.id))]
                shapes.append((dict(row._mapping), sorted(evs, key=lambda e: e["seq"]), dls))
        source.dispose()
    target = make_engine(url)
    bootstrap(Settings(db_url=url)).engine.dispose()  # migrate
    total = 0
    chunk = 5_000
    with target.begin() as c, Progress("loading", total=n_cases, unit="cases") as progress:
        for start in range(0, n_cases, chunk):
            case_rows, event_rows, deadline_rows = [], [], []
            for i in range(start, min(start + chunk, n_cases)):
                case, evs, dls = shapes[i % len(shapes)]
                case_id = f"case-{i:07d}"
                case_rows.append({**case, "id": case_id, "snapshot": {**case["snapshot"], "id": case_id}})
                prev = GENESIS
                for e in evs:
                    row = {**e, "case_id": case_id, "prev_hash": prev}
                    row.pop("id")
                    row["hash"] = prev = event_hash(**{k: row[k] for k in HASHED_FIELDS})
                    event_rows.append(row)
                deadline_rows.extend({**d, "case_id": case_id} for d in dls)
            c.execute(sa.insert(cases), case_rows)
            c.execute(sa.insert(events), event_rows)
            c.execute(sa.insert(deadlines), deadline_rows)
            total += len(event_rows)
            progress.advance(len(case_rows), events=len(event_rows))
    target.dispose()
    return total


class Timer:
    """Wall time, and this process's CPU time (steady when other work shares the machine)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def bare_read(url: str) -> tuple[int, Timer]:
    engine = make_engine(url)
    timer = Timer().__enter__()
    with engine.connect() as c:
        n = sum(1 for _ in c.execute(sa.select(events)))
        sum(1 for _ in c.execute(sa.select(cases)))
        sum(1 for _ in c.execute(sa.select(deadlines)))
    timer.__exit__()
    engine.dispose()
    return n, timer


def paged_read(url: str) -> Timer:
    """The reads verify makes (pages of cases with their rows), without the checks."""
    from service.audit import PAGE

    engine = make_engine(url)
    timer = Timer().__enter__()
    with engine.connect() as c:
        ids = case_ids(c)
        for i in range(0, len(ids), PAGE):
            load_range(c, ids[i], ids[min(i + PAGE, len(ids)) - 1])
    timer.__exit__()
    engine.dispose()
    return timer


def timed_verify(url: str, jobs: int, checkpoint: Checkpoint | None = None) -> tuple[VerifyReport, Timer]:
    app = bootstrap(Settings(db_url=url), migrate=False)
    with Timer() as timer:
        report = AuditService(app.engine, app.catalog).verify(jobs=jobs, checkpoint=checkpoint)
    app.engine.dispose()
    assert report.ok, report.summary_line()
    return report, timer


def profile(url: str, n: int) -> str:
    """Where one process spends its time verifying the first ``n`` cases."""
    app = bootstrap(Settings(db_url=url), migrate=False)
    audit = AuditService(app.engine, app.catalog)
    with app.engine.connect() as c:
        ids = case_ids(c)[:n]
    profiler = cProfile.Profile()
    profiler.enable()
    for case_id in ids:
        audit.verify(case_id)
    profiler.disable()
    app.engine.dispose()
    out = StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", help="build (or reuse) the store at this SQLite path")
    parser.add_argument("--profile", type=int, default=0, help="also profile verify of this many cases")
    parser.add_argument("--parts", default="reads,one,many", help="which measurements to make")
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "replay.db"
        url = f"sqlite:///{path}"
        if not path.exists():  # built under another name first, so an interrupted build is never reused
            building = path.with_name(path.name + ".building")
            for leftover in path.parent.glob(building.name + "*"):
                leftover.unlink()
            started = time.perf_counter()
            n_events = build(f"sqlite:///{building}", args.cases)
            building.rename(path)
            print(f"built {args.cases:,} cases, {n_events:,} events in {time.perf_counter() - started:.1f} s ({path})")
        n_rows, bare = bare_read(url)
        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at the start", flush=True)
        print(f"{'':<52}{'wall s':>8}{'events/s':>10}{'cpu s':>8}{'events/s':>10}{'ratio':>7}", flush=True)

        def row(label: str, timer: Timer, n_events: int, cpu: bool = True) -> None:
            wall_rate, cpu_rate = n_events / timer.wall, n_events / timer.cpu if cpu else 0.0
            ratio = (cpu_rate / (n_rows / bare.cpu)) if cpu else wall_rate / (n_rows / bare.wall)
            cpu_text = f"{timer.cpu:8.2f}{cpu_rate:>10,.0f}" if cpu else f"{'':>8}{'':>10}"
            print(f"{label:<52}{timer.wall:8.2f}{wall_rate:>10,.0f}{cpu_text}{ratio:7.3f}", flush=True)

        parts = set(args.parts.split(","))
        row("bare SELECT of cases, events, deadlines", bare, n_rows)
        if "reads" in parts:
            row("verify's paged reads alone", paged_read(url), n_rows)
        if "one" in parts:
            report, one = timed_verify(url, 1)
            row(f"verify, 1 process ({report.cases:,} cases, {report.events:,} events)", one, report.events)
        if "many" in parts:
            report, many = timed_verify(url, args.jobs)
            row(f"verify, {args.jobs} processes (wall only)", many, report.events, cpu=False)
        if "checkpoint" in parts:
            first, recording = timed_verify(url, args.jobs, Checkpoint())
            row(f"verify --checkpoint, first run, {args.jobs} processes", recording, first.events, cpu=False)
            _, nightly = timed_verify(url, args.jobs, Checkpoint(first.seen))
            row(f"verify --checkpoint, nothing changed, {args.jobs} processes", nightly, first.events, cpu=False)
        print("ratio: events/s against the bare SELECT's rows/s (CPU time where given, else wall)")
        print("targets: >= 50,000 events/s and >= 0.3 of the bare read rate")
        if args.profile:
            print(profile(url, args.profile))


if __name__ == "__main__":
    main()
