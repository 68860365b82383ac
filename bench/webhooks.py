"""Benchmark: webhook deliveries per second from one instance to a loopback receiver.

    .venv/bin/python bench/webhooks.py [--events 20000] [--db sqlite|URL]

Loads N events (one per case, so per-case ordering does not serialize them) with bare Core, subscribes
one webhook from the start of the feed, then times the worker's rounds (``Webhooks.work``: record,
fan-out and claim in one write transaction, then send; the loop ``complaints serve`` runs) until every
delivery is recorded delivered. The receiver is a bare asyncio server in another process
(bench/hooks_support.py). Target: >= 1,000 deliveries/s. The loop is bounded (``--timeout``): a run that
does not finish says so and reports what was delivered.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/http.py would shadow the standard `http`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.bootstrap import Settings, bootstrap  # noqa: E402
from bench.hooks_support import start_receiver  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from service.webhooks import Webhooks  # noqa: E402
from storage.tables import cases, events, webhook_deliveries  # noqa: E402
from workflow.clock import SystemClock  # noqa: E402

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)


def load(engine: sa.Engine, n: int) -> None:
    case_rows = [{"id": f"c{i}", "policy_id": "code_2024", "policy_version": 1, "state": "stage_1", "version": 1,
                  "opened_at": T0, "updated_at": T0, "snapshot": {}} for i in range(n)]  # fmt: skip
    event_rows = [{"case_id": f"c{i}", "seq": 1, "name": "receive", "data": {"channel": "email"}, "occurred_at": T0,
                   "recorded_at": T0, "actor": "bench", "policy_id": "code_2024", "policy_version": 1,
                   "state_before": "new", "state_after": "stage_1", "prev_hash": "0" * 64, "hash": "0" * 64}
                  for i in range(n)]  # fmt: skip
    with engine.begin() as c:
        c.execute(sa.insert(cases), case_rows)
        c.execute(sa.insert(events), event_rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before the run gives up")
    parser.add_argument("--db", default=None, help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    configure_logging("WARNING")
    receiver, url = start_receiver()
    with tempfile.TemporaryDirectory() as tmp:
        app = bootstrap(Settings(db_url=args.db or f"sqlite:///{tmp}/hooks.db"))
        load(app.engine, args.events)
        hooks = Webhooks(app.engine, SystemClock())
        hooks.add(url, after="0.0.0")
        start, cpu = time.perf_counter(), time.process_time()
        deadline = time.monotonic() + args.timeout
        done = False
        while not done and time.monotonic() < deadline:  # bounded: a stuck delivery ends the run, reported
            if hooks.work() == 0:  # serve's round: its sends are recorded by the next round
                done = _all_delivered(app.engine, args.events)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        with app.engine.connect() as c:
            delivered = c.execute(
                sa.select(sa.func.count()).where(webhook_deliveries.c.status == "delivered")
            ).scalar_one()
        hooks.close()
        app.engine.dispose()
    receiver.terminate()
    if not done:
        print(f"timed out after {args.timeout:.0f} s: {delivered} of {args.events} delivered")
    rate = delivered / elapsed
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f}")
    print(f"{delivered} deliveries in {elapsed:.2f} s = {rate:,.0f} deliveries/s (target >= 1,000); "
          f"{cpu / max(delivered, 1) * 1e6:.0f} us of this process's CPU each")  # fmt: skip
    print(json.dumps({"deliveries_per_s": round(rate), "cpu_us_per_delivery": round(cpu / max(delivered, 1) * 1e6),
                      "complete": done}))  # fmt: skip


def _all_delivered(engine: sa.Engine, expected: int) -> bool:
    with engine.connect() as c:
        left = c.execute(sa.select(sa.func.count()).where(webhook_deliveries.c.status != "delivered")).scalar_one()
        queued = c.execute(sa.select(sa.func.count()).select_from(webhook_deliveries)).scalar_one()
    return left == 0 and queued == expected


if __name__ == "__main__":
    main()
