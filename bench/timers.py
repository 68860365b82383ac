"""Benchmark: the deadline timers on an SQLite file, through the real scheduler, service and store.

    .venv/bin/python bench/timers.py [--backlog 100000] [--pending 10000] [--seconds 60]

Part 1 (backlog): N open deadlines already overdue when the timers start (a
service coming back after a long outage). Time from ``start()`` until the
start sweep has fired them all, and deadlines/s (target >= 2,000/s).
Baselines in the same run: the same firing one case per transaction, on a
5,000-deadline sample (what batching buys); and bare SQLAlchemy Core writes of
the same rows (the floor the store sets): every row firing wrote (each claimed
deadline, each case's snapshot columns, each event with its hashes) read back
and written again, 500 cases a transaction, onto a copy of the store taken
before firing, with no machine, no hash chain and no JSON of its own.

Part 2 (on time): M pending deadlines passing over S seconds. Breach instants
are local midnights, so the service runs on a clock going one day every 3 s
(scheduler/clock.py ShiftedClock): M/20 deadlines pass at each of 20 midnights.
Lateness = wall time the deadline's firing was committed (its ``deadline_fired``
log line) minus the wall time of its breach instant (target p99 < 2 s).
Baseline in the same run: a bare APScheduler job at each of the same instants,
doing nothing (the scheduler's own wake-up lateness). Part 3: the same M
deadlines all at one midnight, the worst burst.

Every case uses a made-up policy (an informal stage of one calendar day, a
breach recorded): one deadline per case, due on any day.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402

from api.bootstrap import App, Settings, bootstrap  # noqa: E402
from api.progress import Progress  # noqa: E402
from scheduler.clock import ShiftedClock, wall_time  # noqa: E402
from scheduler.timers import DeadlineTimers  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from storage.database import make_engine, upgrade  # noqa: E402
from storage.tables import cases, deadlines, events  # noqa: E402
from storage.unit_of_work import UnitOfWorkFactory  # noqa: E402
from workflow.audit.history import EventRecord, new_case  # noqa: E402
from workflow.calendar import LONDON, breach_instant  # noqa: E402
from workflow.catalog import Catalog  # noqa: E402
from workflow.engine import apply  # noqa: E402
from workflow.policy import POLICY_DIR  # noqa: E402

POLICY_TOML = """\
id = "bench_timers"
version = 1
name = "Benchmark: one informal deadline a case, one calendar day"
source = "bench/timers.py"
closure_days = []
exclusions = ["out_of_time"]
refusal_grounds = ["out_of_time"]
[informal]
response = "1 calendar day"
on_breach = "record"
[time_limit]
length = "12 months"
from_awareness = true
[stage_1]
acknowledgement = "5 working days"
response = "10 working days"
response_from = "acknowledgement"
letter = ["decision", "reasons", "remedy", "outstanding_actions", "escalation_route"]
[escalation]
late_allowed = false
early = "none"
reasons_required = false
[stage_2]
acknowledgement = "5 working days"
response = "20 working days"
response_from = "acknowledgement"
letter = ["decision", "reasons", "remedy", "outstanding_actions", "ombudsman_info"]
[ombudsman]
designated_person_bypass = false
"""
RECEIVE = {"channel": "phone", "incident_date": "2027-01-01", "formal": False}
FIRST_DAY = date(2027, 1, 4)
DAYS = 20


class Captured:
    """A structlog processor noting when each ``deadline_fired`` line is written (after its commit)."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, float]] = []  # (breach_at, wall time)

    def __call__(self, _logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("event") == "deadline_fired":
            self.fired.append((event["breach_at"], time.time()))
        return event


def configure(log_file: Any) -> Captured:
    configure_logging("INFO", stream=log_file)  # marks logging configured; then the same lines, captured too
    captured = Captured()
    structlog.configure(
        processors=[
            captured,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=log_file),
        cache_logger_on_first_use=False,
    )
    return captured


def seed(url: str, catalog: Catalog, count: int, days: int, prefix: str) -> list[datetime]:
    """``count`` cases received on ``days`` consecutive days (10:00 London), in big transactions; their instants."""
    policy = catalog.get("bench_timers")
    engine = make_engine(url)
    upgrade(engine)
    uow = UnitOfWorkFactory(engine)
    progress = Progress(f"loading {prefix}", total=count, unit="cases")
    for start in range(0, count, 5000):
        with uow() as unit:
            for i in range(start, min(count, start + 5000)):
                at = datetime.combine(FIRST_DAY + timedelta(days=i % days), clock_time(10), tzinfo=LONDON)
                case = new_case(f"{prefix}-{i:06d}", policy)
                after = apply(case, policy, "receive", RECEIVE, at, at)
                record = EventRecord(
                    after.id, after.version, "receive", RECEIVE, at, at, "bench", case.state, after.state
                )
                unit.cases.add(after, [record], at)
            unit.commit()
        progress.advance(min(count, start + 5000) - start)
    progress.close()
    engine.dispose()
    return [breach_instant(FIRST_DAY + timedelta(days=d + 1)) for d in range(min(days, count))]


def open_count(app: App) -> int:
    with app.engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(deadlines).where(deadlines.c.status == "open")).scalar()


def part_backlog(work: Path, catalog: Catalog, count: int, policy_dir: Path) -> dict[str, float]:
    url = f"sqlite:///{work / 'backlog.db'}"
    t = time.perf_counter()
    seed(url, catalog, count, DAYS, "backlog")
    print(f"  seeded {count:,} cases with one overdue deadline each in {time.perf_counter() - t:.1f} s")
    for suffix in ("", "-wal"):  # the bare Core baseline writes to this copy (seed closed its engine: no WAL)
        if (work / f"backlog.db{suffix}").exists():
            shutil.copyfile(work / f"backlog.db{suffix}", work / f"bare.db{suffix}")
    clock = ShiftedClock(datetime(2027, 6, 1, 9, tzinfo=UTC))
    timers = DeadlineTimers(clock, sweep_seconds=3600)
    app = bootstrap(Settings(db_url=url, extra_policy_dir=str(policy_dir)), clock=clock, catalog=catalog)
    done = threading.Event()
    fired: list[int] = []

    def fire_due(now: datetime, keep_going: Any = None) -> list[Any]:
        result = app.service.fire_due(now, keep_going=keep_going)
        fired.append(len(result))
        done.set()
        return result

    start, cpu = time.perf_counter(), time.process_time()
    timers.start(fire_due, app.service.upcoming_instants)
    done.wait(3600)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    timers.stop()
    left = open_count(app)
    app.engine.dispose()
    rate = fired[0] / elapsed
    print(f"  all {fired[0]:,} fired in {elapsed:.1f} s after start: {rate:,.0f} deadlines/s (open left: {left})")
    print(f"  CPU time of this process meanwhile: {cpu:.1f} s, {fired[0] / cpu:,.0f} deadlines per CPU-second")
    return {"elapsed": elapsed, "rate": rate, "fired": fired[0], "cpu_rate": fired[0] / cpu}


def per_case_baseline(work: Path, catalog: Catalog, policy_dir: Path, sample: int) -> float:
    url = f"sqlite:///{work / 'per_case.db'}"
    seed(url, catalog, sample, DAYS, "one")
    app = bootstrap(Settings(db_url=url, extra_policy_dir=str(policy_dir)), catalog=catalog)
    start = time.perf_counter()
    n = len(app.service.fire_due(datetime(2027, 6, 1, tzinfo=UTC), batch=1))
    rate = n / (time.perf_counter() - start)
    app.engine.dispose()
    return rate


def bare_core_baseline(fired_url: str, copy_url: str, chunk: int = 500) -> tuple[float, float, int]:
    """Bare Core writes of exactly the rows the service wrote, onto a copy of the store taken before it fired.

    For each chunk of cases (the service's batch size) the rows firing wrote are read back from the fired
    store (untimed): each claimed deadline's status and closed_seq, each case's six snapshot columns
    (state, closure_reason, version, updated_at, breach_count, snapshot), each new event row with its
    hashes. Then one transaction writes them to the copy with plain SQLAlchemy Core executemany (timed):
    the same rows, columns and values on a store of the same size, with no machine, no JSON of its own and
    no hash chain to compute.
    """
    source, target = make_engine(fired_url), make_engine(copy_url)
    with source.connect() as c:
        ids = list(c.execute(sa.select(cases.c.id).order_by(cases.c.id)).scalars())
    claim = (
        sa.update(deadlines)
        .where(
            deadlines.c.case_id == sa.bindparam("b_case"),
            deadlines.c.number == sa.bindparam("b_number"),
            deadlines.c.status == "open",
        )
        .values(status=sa.bindparam("b_status"), closed_seq=sa.bindparam("b_closed"))
    )
    case_columns = ("state", "closure_reason", "version", "updated_at", "breach_count", "snapshot")
    snap = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_version"))
        .values({name: sa.bindparam(name) for name in case_columns})
    )
    event_columns = [c for c in events.c if c.name not in ("id", "txid")]
    wall = cpu = 0.0
    written = 0
    for at in range(0, len(ids), chunk):
        part = ids[at : at + chunk]
        with source.connect() as c:
            claims = [
                {"b_case": r.case_id, "b_number": r.number, "b_status": r.status, "b_closed": r.closed_seq}
                for r in c.execute(
                    sa.select(deadlines).where(deadlines.c.case_id.in_(part), deadlines.c.closed_seq.is_not(None))
                )
            ]
            fired = list(c.execute(sa.select(events).where(events.c.case_id.in_(part), events.c.seq > 1)))
            firsts = {r.case_id: r.seq - 1 for r in sorted(fired, key=lambda r: -r.seq)}
            snapshots = [
                {**{name: getattr(r, name) for name in case_columns}, "b_id": r.id, "b_version": firsts[r.id]}
                for r in c.execute(sa.select(cases).where(cases.c.id.in_(part)))
                if r.id in firsts
            ]
        rows = [{col.name: getattr(r, col.name) for col in event_columns} for r in fired]
        start, started_cpu = time.perf_counter(), time.process_time()
        with target.begin() as c:
            c.execute(claim, claims)
            c.execute(snap, snapshots)
            c.execute(sa.insert(events), rows)
        wall += time.perf_counter() - start
        cpu += time.process_time() - started_cpu
        written += len(fired)
    source.dispose()
    target.dispose()
    return written / wall, written / cpu, written


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def part_on_time(
    work: Path, catalog: Catalog, policy_dir: Path, count: int, seconds: float, days: int, captured: Captured
) -> dict[str, float]:
    """``count`` deadlines over ``days`` midnights spread across ``seconds`` of wall time; lateness of each."""
    url = f"sqlite:///{work / f'pending-{days}.db'}"
    instants = seed(url, catalog, count, days, f"pending{days}")
    speed = 86400 / (seconds / days) if days > 1 else 1.0
    clock = ShiftedClock(instants[0] - timedelta(seconds=3 * speed), speed=speed)
    timers = DeadlineTimers(clock, sweep_seconds=3600)
    app = bootstrap(
        Settings(db_url=url, extra_policy_dir=str(policy_dir)),
        clock=clock,
        catalog=catalog,
        on_deadlines=timers.deadlines_changed,
    )
    # the baseline: APScheduler alone, a job doing nothing at each of the same instants
    bare: list[float] = []
    plain = BackgroundScheduler(timezone=UTC)
    for instant in instants:
        wall = wall_time(clock, instant)
        plain.add_job(lambda w=wall: bare.append(time.time() - w.timestamp()), "date", run_date=wall)
    captured.fired.clear()
    plain.start()
    timers.start(app.service.fire_due, app.service.upcoming_instants)
    finish = time.monotonic() + seconds + 3 + 60
    while len(captured.fired) < count and time.monotonic() < finish:
        time.sleep(0.2)
    timers.stop()
    plain.shutdown(wait=True)
    app.engine.dispose()
    late = [at - wall_time(clock, datetime.fromisoformat(breach)).timestamp() for breach, at in captured.fired]
    return {
        "fired": len(late),
        "p50": percentile(late, 50),
        "p99": percentile(late, 99),
        "max": max(late),
        "bare_p99": percentile(bare, 99),
        "speed": speed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sample", type=int, default=5_000, help="deadlines of the one-case-a-transaction baseline")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"bench/timers.py on {os.cpu_count()} cores (load average {load}), SQLite file, Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-timers-") as tmp:
        work = Path(tmp)
        policy_dir = work / "policies"
        (policy_dir / "bench_timers").mkdir(parents=True)
        (policy_dir / "bench_timers" / "1.toml").write_text(POLICY_TOML, encoding="utf-8")
        catalog = Catalog.from_dirs(POLICY_DIR, policy_dir)
        with open(work / "service.log", "w", encoding="utf-8") as log_file:
            captured = configure(log_file)

            print(f"part 1: {args.backlog:,} deadlines overdue at start")
            backlog = part_backlog(work, catalog, args.backlog, policy_dir)
            one = per_case_baseline(work, catalog, policy_dir, args.sample)
            fired_url, copy_url = f"sqlite:///{work / 'backlog.db'}", f"sqlite:///{work / 'bare.db'}"
            bare, bare_cpu, rows = bare_core_baseline(fired_url, copy_url)
            print(f"  baseline, one case a transaction ({args.sample:,}): {one:,.0f} deadlines/s")
            print(
                f"  baseline, bare Core writes of the same rows (the {rows:,} firing wrote, on a copy of the store): "
                f"{bare:,.0f} deadlines/s, {bare_cpu:,.0f} per CPU-second"
            )
            verdict = "met" if backlog["rate"] >= 2000 else "NOT met"
            rate = backlog["rate"]
            print(f"  ratio: {rate / one:.1f}x one case a transaction; {rate / bare:.2f} of bare Core")
            cpu_ratio = backlog["cpu_rate"] / bare_cpu
            print(f"  per CPU-second (what a shared machine does not skew): {cpu_ratio:.2f} of bare Core")
            print(f"  target >= 2,000 deadlines/s: {verdict}")

            print(f"part 2: {args.pending:,} deadlines passing over {args.seconds:.0f} s ({DAYS} midnights)")
            spread = part_on_time(work, catalog, policy_dir, args.pending, args.seconds, DAYS, captured)
            report(spread)
            print(f"part 3: {args.pending:,} deadlines passing at one midnight (real-speed clock)")
            burst = part_on_time(work, catalog, policy_dir, args.pending, 3.0, 1, captured)
            report(burst)
    return 0


def report(figures: dict[str, float]) -> None:
    verdict = "met" if figures["p99"] < 2 else "NOT met"
    print(
        f"  fired {figures['fired']:,}; lateness p50 {figures['p50']:.3f} s, p99 {figures['p99']:.3f} s, "
        f"max {figures['max']:.3f} s (target p99 < 2 s: {verdict})"
    )
    ratio = figures["p99"] / figures["bare_p99"] if figures["bare_p99"] > 0 else float("inf")
    print(
        f"  baseline, APScheduler no-op job at the same instants: p99 {figures['bare_p99']:.3f} s; ratio {ratio:.0f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
