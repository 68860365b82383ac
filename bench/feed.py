"""Benchmark: reading the whole feed through the API's query against a bare SELECT of the same rows.

    .venv/bin/python bench/feed.py [--rows 1000000] [--page 1000] [--db URL]

Loads N event rows with bare Core (an SQLite file by default), then in the same run (a) reads every row
with one bare ``SELECT`` of the columns an entry carries, in id order, taking what the driver gives (no
JSON or datetime conversion), and (b) follows the feed from the start page by page as ``GET /feed`` does
(service/feed.py: the cursor query with its envelopes written by the database, the merge with
notifications, the page's JSON text the route answers). Target: ratio (b)/(a) >= 0.5.

The machine is shared, so (a) and (b) are run ``--repeat`` times in turns and the best time of each is
compared (contention only ever adds time); the ratio of their CPU times is printed beside it.
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
from datetime import UTC, datetime, timedelta  # noqa: E402

import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.bootstrap import Settings, bootstrap  # noqa: E402
from service.feed import Feed  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from storage.tables import cases, events  # noqa: E402

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
PER_CASE = 6
CHUNK = 50_000
# what an entry carries, as the driver gives it
BARE_COLUMNS = tuple(
    sa.type_coerce(c, sa.Text) if c.name in ("data", "occurred_at", "recorded_at") else c
    for c in (events.c.id, events.c.txid, events.c.case_id, events.c.seq, events.c.name, events.c.data,
              events.c.occurred_at, events.c.recorded_at, events.c.actor, events.c.policy_id,
              events.c.policy_version, events.c.state_before, events.c.state_after)
)  # fmt: skip


def load(engine: sa.Engine, n: int) -> None:
    names = ["receive", "acknowledge", "add_issue", "respond", "request_escalation", "acknowledge"]
    for start in range(0, n, CHUNK):
        ids = range(start, min(n, start + CHUNK))
        case_rows = [{"id": f"c{i // PER_CASE}", "policy_id": "code_2024", "policy_version": 1, "state": "stage_1",
                      "version": PER_CASE, "opened_at": T0, "updated_at": T0, "snapshot": {}}
                     for i in ids if i % PER_CASE == 0]  # fmt: skip
        event_rows = [{"case_id": f"c{i // PER_CASE}", "seq": i % PER_CASE + 1, "name": names[i % PER_CASE],
                       "data": {"handler": "ben", "channel": "email", "n": i}, "actor": "bench",
                       "occurred_at": T0 + timedelta(seconds=i), "recorded_at": T0 + timedelta(seconds=i),
                       "policy_id": "code_2024", "policy_version": 1, "state_before": "stage_1",
                       "state_after": "stage_1", "prev_hash": "0" * 64, "hash": "0" * 64}
                      for i in ids]  # fmt: skip
        with engine.begin() as c:
            if case_rows:
                c.execute(sa.insert(cases), case_rows)
            c.execute(sa.insert(events), event_rows)


def bare(engine: sa.Engine) -> tuple[int, float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    with engine.connect() as c:
        for _row in c.execute(sa.select(*BARE_COLUMNS).order_by(events.c.id)):
            count += 1
    return count, time.perf_counter() - start, time.process_time() - cpu


def through_feed(engine: sa.Engine, page: int) -> tuple[int, float, float]:
    feed = Feed(engine)
    start, cpu = time.perf_counter(), time.process_time()
    count, cursor = 0, None
    while True:
        got = feed.page(cursor, page)
        if not got.bodies:
            break
        got.json()  # the body GET /feed answers
        count += len(got.bodies)
        cursor = got.next_cursor
    return count, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", "--events", dest="events", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="turns of (bare, feed); the best of each counts")
    parser.add_argument("--db", default=None, help="an empty database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        app = bootstrap(Settings(db_url=args.db or f"sqlite:///{tmp}/feed.db"))
        t = time.perf_counter()
        load(app.engine, args.events)
        print(f"loaded {args.events:,} events in {time.perf_counter() - t:.1f} s")
        bare(app.engine)  # warm the cache: both reads then find the file in memory
        bares, feeds = [], []
        for _ in range(args.repeat):
            bares.append(bare(app.engine))
            feeds.append(through_feed(app.engine, args.page))
        app.engine.dispose()
    assert all(b[0] == f[0] == args.events for b, f in zip(bares, feeds, strict=True)), (bares, feeds)
    n = args.events
    bare_s, feed_s = min(b[1] for b in bares), min(f[1] for f in feeds)
    bare_cpu, feed_cpu = min(b[2] for b in bares), min(f[2] for f in feeds)
    ratio = bare_s / feed_s
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f}")
    print(f"bare SELECT: {n:,} rows in {bare_s:.2f} s = {n / bare_s:,.0f} rows/s (best of {args.repeat})")
    print(f"feed (pages of {args.page}): {n:,} entries in {feed_s:.2f} s = {n / feed_s:,.0f} entries/s")
    print("ratios by turn: " + ", ".join(f"{b[1] / f[1]:.2f}" for b, f in zip(bares, feeds, strict=True)))
    print(f"ratio feed/bare: {ratio:.2f} (target >= 0.5); CPU time ratio {bare_cpu / feed_cpu:.2f}")
    print(json.dumps({"bare_rows_per_s": round(n / bare_s), "feed_entries_per_s": round(n / feed_s),
                      "ratio": round(ratio, 3), "cpu_ratio": round(bare_cpu / feed_cpu, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
