"""Benchmark: XES export against a bare SELECT of the same rows, and its peak memory as the store grows.

    .venv/bin/python bench/export.py [--events 1000000] [--small 100000] [--quick]

Builds SQLite stores of ``--small`` and ``--events`` events (bench/replay.py's
clone builder: template histories written through the service, cloned by bulk
insert), then on each, in the same run:

- bare read: the export's own query (storage/event_log_queries.py), every row
  fetched and dropped;
- XES export to a file (service/event_log.py);
- peak memory of the export, measured with tracemalloc in a separate pass
  (tracemalloc slows what it traces, so it is not timed).

Prints events/s, the ratio export / bare read (target >= 0.3) and the peak
memory of both sizes (target: flat). ``--quick``: 20,000 and 200,000 events.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# bench/ itself off the path: its http.py would hide the standard library's http
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from service.event_log import export  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from storage.database import make_engine  # noqa: E402
from storage.event_log_queries import LogFilter, bare_rows  # noqa: E402
from storage.unit_of_work import UnitOfWorkFactory  # noqa: E402

# bench/replay.py's store builder (bench/ is not a package, and putting it on sys.path would hide stdlib http)
_spec = importlib.util.spec_from_file_location("bench_replay", Path(__file__).with_name("replay.py"))
assert _spec is not None and _spec.loader is not None
_replay = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_replay)
build = _replay.build


def run(tmp: str, n_events: int) -> dict[str, float]:
    url = f"sqlite:///{tmp}/store-{n_events}.db"
    events = build(url, max(1, n_events // 7))
    engine = make_engine(url)
    uow = UnitOfWorkFactory(engine)
    started = time.perf_counter()
    with engine.connect() as c:
        assert bare_rows(c, LogFilter()) == events
    bare = time.perf_counter() - started
    out = Path(tmp) / "log.xes"
    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as f:
        for chunk in export(uow, "xes", LogFilter()):
            f.write(chunk)
    xes = time.perf_counter() - started
    tracemalloc.start()
    with out.open("w", encoding="utf-8") as f:
        for chunk in export(uow, "xes", LogFilter()):
            f.write(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    engine.dispose()
    return {"events": events, "bare": bare, "xes": xes, "peak": peak, "size": out.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 and 200,000 events")
    args = parser.parse_args()
    sizes = (20_000, 200_000) if args.quick else (args.small, args.events)
    configure_logging("WARNING")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = run(tmp, n)
            results.append(r)
            print(
                f"{r['events']:>10,} events: bare read {r['events'] / r['bare']:>9,.0f} events/s, "
                f"XES {r['events'] / r['xes']:>9,.0f} events/s, ratio {r['bare'] / r['xes']:.2f} (target >= 0.3), "
                f"peak memory {r['peak'] / 1e6:.1f} MB, file {r['size'] / 1e6:.0f} MB"
            )
    small, big = results
    growth = big["peak"] / small["peak"]
    print(f"peak memory at {big['events'] / small['events']:.0f}x the events: {growth:.2f}x the memory")


if __name__ == "__main__":
    main()
