"""Benchmark: every console page on a store of 100,000 cases, against the JSON API calls it stands for.

    .venv/bin/python bench/console.py [--cases 100000] [--sqlite PATH] [--runs 7]
                                      [--pg-url URL | --no-postgres] [--no-sqlite] [--reuse]

The store is bench/reports.py's (bulk-loaded cases under four policies,
January 2025 to June 2026, with their events and deadlines; its report indexes
and ANALYZE), on SQLite and on PostgreSQL (``--pg-url``, or a throwaway server
as the tests start one). The app runs in this process (FastAPI's ASGI app through
Starlette's test client, no network) with the clock at 1 July 2026; each page
is fetched ``--runs`` times after one warm-up, and the median is printed with
the median of its baseline: the JSON API calls that give the same figures
(a case page = ``GET /cases/{id}`` + ``/allowed`` + ``/timeline``; the reports
page = ``/reports/tsm`` + the 13 ``/reports/kpi`` calls its tables and
12-month chart need). ratio = console / baseline, in the same run.

The Work and Reports pages and the process map keep their figures until an event is
committed (service/store_cache.py): their rows measure a view of an unchanged
store, and the rows "after a write" commit a write before each fetch (a new
b3living case: its receive event, its deadlines; not timed), so each fetch is the
first view after a write: the process map adds the events since its counts
(service/flow.py), the Reports page keeps the figures of periods that ended
before every case written since began (api/console/routes_reports.py), the rest
compute afresh. "reports" shows past periods (the 2025/26 year, June 2026);
"reports (this month)" shows July 2026 and the 2026/27 year, where the bench's
writes land, so its figures are all counted again.

Goal: every page under 200 ms (the issue's), and a ratio near 1 (the page
adds rendering, not queries).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path, and bench/http.py would shadow the standard `http`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
# bench/reports.py's generated store, loaded by path (bench/ is no package, and bench/http.py shadows http)
_spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "bench" / "reports.py")
store = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(store)  # type: ignore[union-attr]

from api.bootstrap import Settings, bootstrap  # noqa: E402
from api.http.app import create_app  # noqa: E402
from api.http.deps import create_token  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from storage.database import make_engine  # noqa: E402
from workflow.clock import ManualClock  # noqa: E402

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from fastapi.testclient import TestClient  # noqa: E402

NOW = datetime(2026, 7, 1, 9, tzinfo=UTC)


def median_ms(
    client: TestClient, paths: list[str], runs: int, session: bool, write: Callable[[], Any] | None = None
) -> float:
    """Median wall time of fetching every path in ``paths`` once (after a warm-up), in milliseconds.

    ``write`` (not timed) commits an event before each fetch, so the console's kept figures
    (service/store_cache.py) are stale: each fetch is the first view after a write.
    """
    headers = {} if session else {"Authorization": f"Bearer {client.token}"}  # type: ignore[attr-defined]
    for path in paths:
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    times = []
    for _ in range(runs):
        took = 0.0
        for path in paths:
            if write is not None:
                write()
            start = time.perf_counter()
            client.get(path, headers=headers)
            took += time.perf_counter() - start
        times.append(took * 1000)
    return statistics.median(times)


# measured with an event committed before each fetch
COLD = ("work, after a write", "reports, after a write", "reports (this month), after a write",
        "process map, after a write")  # fmt: skip


def pages(case_id: str) -> dict[str, tuple[list[str], list[str]]]:
    months = [f"2025-{m:02d}" for m in range(7, 13)] + [f"2026-{m:02d}" for m in range(1, 7)]
    out = {
        "work": (["/ui/work"], ["/work"]),
        "cases": (["/ui/cases"], ["/cases"]),
        "cases (filtered, page 20)": (
            ["/ui/cases?state=closed&policy=b3living&breached=yes&offset=1000"],
            ["/cases?state=closed&policy=b3living&breached=true&offset=1000"],
        ),
        "case": (
            [f"/ui/cases/{case_id}"],
            [f"/cases/{case_id}", f"/cases/{case_id}/allowed", f"/cases/{case_id}/timeline"],
        ),
        "case diagram": ([f"/ui/cases/{case_id}/diagram.svg"], [f"/cases/{case_id}/diagram.svg"]),
        "policies": (["/ui/policies"], ["/policies"]),
        "policy": (["/ui/policies/b3living/2"], ["/policies/b3living?version=2", "/policies/b3living@2/lint"]),
        "reports": (
            ["/ui/reports?year=2025&homes=20000&month=2026-06"],
            ["/reports/tsm?year=2025&homes=20000"] + [f"/reports/kpi?month={m}" for m in months],
        ),
        "process map": (["/ui/reports/flow.svg?policy=b3living"], ["/reports/flow.svg?policy=b3living"]),
    }
    this_year = [f"2025-{m:02d}" for m in range(8, 13)] + [f"2026-{m:02d}" for m in range(1, 8)]
    out["reports (this month)"] = (
        ["/ui/reports?year=2026&homes=20000&month=2026-07"],
        ["/reports/tsm?year=2026&homes=20000"] + [f"/reports/kpi?month={m}" for m in this_year],
    )
    out["work, after a write"] = out["work"]
    out["reports, after a write"] = out["reports"]
    out["reports (this month), after a write"] = out["reports (this month)"]
    out["process map, after a write"] = out["process map"]
    return out


def measure(engine: Any, backend: str, args: argparse.Namespace) -> None:
    """Every page on the loaded store of ``engine``, printed as a table."""
    url = engine.url.render_as_string(hide_password=False)
    app = bootstrap(Settings(db_url=url, log_level="WARNING"), clock=ManualClock(NOW))
    token = create_token(app.engine, "bench", "admin", NOW)
    client = TestClient(create_app(app))
    client.token = token  # type: ignore[attr-defined]
    client.cookies.set("cw_session", token, path="/ui")
    case_id = f"c{args.cases // 2:08d}"

    def write() -> None:  # one committed event (and its deadlines): what makes every kept figure stale
        app.service.open_case("b3living", {"incident_date": "2026-06-29", "channel": "phone", "formal": True})

    print(f"{backend}, {args.cases} cases, load average {os.getloadavg()[0]:.2f}")
    print("rows 'after a write': a case opened (not timed) before each fetch, so each is the first view after it")
    print(f"{'page':<36} {'console ms':>10} {'API ms':>8} {'ratio':>6}  under 200 ms")
    for name, (console, api) in pages(case_id).items():
        if name in args.skip:
            continue
        page_ms = median_ms(client, console, args.runs, session=True, write=write if name in COLD else None)
        api_ms = median_ms(client, api, args.runs, session=False)
        verdict = "yes" if page_ms < 200 else "NO"
        print(f"{name:<36} {page_ms:>10.1f} {api_ms:>8.1f} {page_ms / api_ms:>6.2f}  {verdict}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    app.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    store.store_arguments(parser, 100_000, "bench_console")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip", action="append", default=[], help="a page not to measure (repeatable)")
    parser.add_argument("--reuse", action="store_true", help="use the SQLite store at --sqlite as it is (SQLite only)")
    args = parser.parse_args()
    configure_logging("WARNING")  # the 'after a write' cases' event lines would bury the table
    if args.reuse:
        engine = make_engine(f"sqlite:///{args.sqlite}")
        measure(engine, "sqlite", args)
        engine.dispose()
        return 0
    return store.on_each_backend(args, lambda engine, backend: measure(engine, backend, args))


if __name__ == "__main__":
    sys.exit(main())
