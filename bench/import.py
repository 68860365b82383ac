"""Benchmark: ``complaints import`` against applying the same events one by one through the service.

    .venv/bin/python bench/import.py [--events 100000] [--quick]

Writes a legacy file of about ``--events`` client events (random walks of the
shipped policies, docs/examples/make_example.py; about 4 client events a case, so
100,000 events are about 25,000 cases), then, each on a fresh SQLite file:

- baseline: every row through ``ComplaintService.open_case`` / ``apply``, the
  clock set to the row's ``occurred_at`` (one transaction per event, as an
  integration calling the API would do);
- import: ``read_rows`` + ``Importer.run`` from the file (parsing included).

Prints events/s of each and the ratio import / baseline. Target (issue 14): >= 1.0.
``--quick``: 10,000 events.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "examples"))

from make_example import generate, write  # noqa: E402

from api.bootstrap import Settings, bootstrap  # noqa: E402
from api.progress import Progress  # noqa: E402
from service.import_rows import read_rows  # noqa: E402
from service.importer import Importer, case_id_for  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from workflow.clock import ManualClock  # noqa: E402
from workflow.errors import EventRefused  # noqa: E402

NOW_AFTER = 1  # days after the last event the import runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 events")
    args = parser.parse_args()
    n_events = 10_000 if args.quick else args.events
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        rows = generate(cases=max(1, n_events // 4), per_pair=0, seed=7)
        source = Path(tmp) / "legacy.csv"
        write(rows, source)
        from datetime import datetime, timedelta

        last = max(datetime.fromisoformat(r["occurred_at"]) for r in rows)
        now = last + timedelta(days=NOW_AFTER)
        print(f"{len(rows):,} rows, {len({r['external_ref'] for r in rows}):,} cases")

        base = bootstrap(Settings(db_url=f"sqlite:///{tmp}/baseline.db"), clock=ManualClock(now))
        parsed = list(read_rows(source.open(encoding="utf-8", newline=""), "csv", base.catalog, None))
        clock = ManualClock(min(r.occurred_at for r in parsed))
        base.service.clock = clock
        refused = 0
        started = time.perf_counter()
        with Progress("baseline", total=len(parsed)) as progress:
            for row in sorted(parsed, key=lambda r: (r.occurred_at, r.line)):
                clock.set(row.occurred_at)
                case_id = case_id_for(row.external_ref)
                try:
                    if row.event == "receive":
                        base.service.open_case(row.policy.ref, row.data, row.occurred_at, row.actor, case_id)
                    else:
                        base.service.apply(case_id, row.event, row.data, row.occurred_at, row.actor)
                except EventRefused:
                    refused += 1
                progress.advance()
        baseline = time.perf_counter() - started
        base.engine.dispose()

        app = bootstrap(Settings(db_url=f"sqlite:///{tmp}/import.db"), clock=ManualClock(now))
        started = time.perf_counter()
        with Progress("import", total=len(rows)) as progress:
            fresh = list(read_rows(source.open(encoding="utf-8", newline=""), "csv", app.catalog, None))
            result = Importer(app.service).run(fresh, progress=lambda n, c: progress.advance(n, cases=c))
        imported = time.perf_counter() - started
        app.engine.dispose()
    assert not result.rejects and not refused, (result.rejects[:3], refused)
    print(f"baseline (apply one by one): {len(rows) / baseline:,.0f} events/s ({baseline:.1f} s)")
    print(f"import:                      {len(rows) / imported:,.0f} events/s ({imported:.1f} s), "
          f"{result.events:,} events written with {result.breaches:,} breaches found")
    print(f"ratio import / baseline: {baseline / imported:.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
