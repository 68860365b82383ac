"""Benchmark: a burst of deadlines at one midnight on PostgreSQL, fired by 1 and by N processes.

    .venv/bin/python bench/timers_pg.py [--pending 10000] [--firers 1,2] [--pg-url URL]

bench/timers.py part 3 on PostgreSQL: ``--pending`` cases, each with one deadline passing at the same
local midnight, and ``N`` firing processes (what ``complaints serve --workers N`` runs, or N instances):
each process has the real service and ``DeadlineTimers``; SKIP LOCKED and the claim split the cases
between them. Every process reads one shifted clock (the same start and wall start), so the midnight
passes at the same wall instant for all. Lateness = wall time a deadline's ``deadline_fired`` line was
written (after its batch committed) minus the wall time of its breach instant; p50/p99 over all
deadlines (target p99 < 2 s). Each N runs on a fresh database. Without ``--pg-url`` (or
``COMPLAINTS_BENCH_PG_URL``) a throwaway server is started as tests/pg_server.py does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import timers as bench  # noqa: E402  (bench/timers.py: the policy, the seeding, the log capture)

LEAD = 12.0  # seconds between starting the firers and the midnight: time for them to start


def firer(url: str, policy_dir: str, start: str, wall: str, out: str, expected: int) -> None:
    """One firing process: the service and its timers, until every deadline of the burst is fired."""
    from api.bootstrap import Settings, bootstrap
    from scheduler.clock import ShiftedClock
    from scheduler.timers import DeadlineTimers

    with open(Path(out).with_suffix(".log"), "w", encoding="utf-8") as log_file:
        captured = bench.configure(log_file)
        clock = ShiftedClock(datetime.fromisoformat(start), wall_start=datetime.fromisoformat(wall))
        timers = DeadlineTimers(clock, sweep_seconds=3600)
        app = bootstrap(
            Settings(db_url=url, extra_policy_dir=policy_dir), clock=clock, on_deadlines=timers.deadlines_changed
        )
        timers.start(app.service.fire_due, app.service.upcoming_instants)
        finish = time.monotonic() + LEAD + 120
        while time.monotonic() < finish:
            time.sleep(0.25)
            if bench.open_count(app) == 0 and time.time() > datetime.fromisoformat(wall).timestamp() + LEAD:
                break
        timers.stop()
        app.engine.dispose()
    Path(out).write_text(json.dumps(captured.fired), encoding="utf-8")


def burst(url: str, policy_dir: Path, work: Path, count: int, firers: int) -> dict[str, float]:
    from workflow.catalog import Catalog
    from workflow.policy import POLICY_DIR

    catalog = Catalog.from_dirs(POLICY_DIR, policy_dir)
    (instant,) = bench.seed(url, catalog, count, 1, f"pg{firers}")
    wall = datetime.now(UTC)
    start = instant - timedelta(seconds=LEAD)  # the service clock reads the midnight LEAD s from now
    outs = [work / f"firer-{firers}-{i}.json" for i in range(firers)]
    args = [str(policy_dir), start.isoformat(), wall.isoformat()]
    processes = [
        subprocess.Popen([sys.executable, __file__, "--firer", url, *args, str(out), str(count)]) for out in outs
    ]
    for process in processes:
        process.wait(timeout=LEAD + 180)
    fired: list[tuple[str, float]] = [tuple(x) for out in outs for x in json.loads(out.read_text())]
    at = wall + (instant - start)
    late = [t - at.timestamp() for _, t in fired]
    shares = [len(json.loads(out.read_text())) for out in outs]
    return {
        "fired": len(late),
        "p50": bench.percentile(late, 50),
        "p99": bench.percentile(late, 99),
        "max": max(late),
        "shares": shares,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--firer":
        firer(*sys.argv[2:7], int(sys.argv[7]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--firers", default="1,2")
    parser.add_argument("--pg-url", default=os.environ.get("COMPLAINTS_BENCH_PG_URL"))
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"bench/timers_pg.py on {os.cpu_count()} cores (load average {load}), PostgreSQL")
    server: Any = None
    if not args.pg_url:
        from tests.pg_server import PgServer

        server = PgServer.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-timers-pg-") as tmp:
            work = Path(tmp)
            policy_dir = work / "policies"
            (policy_dir / "bench_timers").mkdir(parents=True)
            (policy_dir / "bench_timers" / "1.toml").write_text(bench.POLICY_TOML, encoding="utf-8")
            for n in (int(x) for x in args.firers.split(",")):
                url = server.make_database() if server is not None else args.pg_url
                figures = burst(url, policy_dir, work, args.pending, n)
                verdict = "met" if figures["p99"] < 2 else "NOT met"
                print(
                    f"  {args.pending:,} deadlines at one midnight, {n} firing process(es): fired {figures['fired']:,} "
                    f"(shares {figures['shares']}); lateness p50 {figures['p50']:.3f} s, p99 {figures['p99']:.3f} s, "
                    f"max {figures['max']:.3f} s (target p99 < 2 s: {verdict}); load {os.getloadavg()[0]:.1f}"
                )
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
