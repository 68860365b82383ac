"""Benchmark: the work list (GET /work's query) over 100,000 cases, against a bare SELECT of the same rows.

    .venv/bin/python bench/work.py [--cases 100000] [--sqlite PATH] [--pg-url URL | --no-postgres] [--repeat 5]

The store is bench/reports.py's (bulk-loaded cases with every event and deadline row the engine would write,
some still waiting for an acknowledgement, many breached). Timed, best of ``--repeat``, in one run:

- ``bare``: the page a plain deadline query gives: ``count(*)`` and the first 50 rows of the open and passed
  obligation rows joined to their cases, in due order: no still-unmet rules, no handler, no working days;
- ``work``: ``ComplaintService.work(WorkQuery())`` (the count, the page with the still-unmet rules, the
  handlers, the working days left), and the same with a ``due_before``, a policy and a handler filter;
- ``work 500``: a page of 500.

Prints ``ratio = bare / work`` for each (1.0: the work list costs no more than the bare rows).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reports import on_each_backend, store_arguments  # noqa: E402
from service.complaints import ComplaintService  # noqa: E402
from service.work import WorkQuery  # noqa: E402
from storage.tables import cases, deadlines  # noqa: E402
from storage.unit_of_work import UnitOfWorkFactory  # noqa: E402
from workflow.catalog import shipped  # noqa: E402
from workflow.clock import ManualClock  # noqa: E402
from workflow.worklist import OBLIGATIONS  # noqa: E402

NOW = datetime(2026, 7, 1, 9, tzinfo=UTC)  # the end of the generated data: some work is still on time


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return min(times), result


def bare(engine: sa.Engine, limit: int) -> Callable[[], Any]:
    where = [deadlines.c.status.in_(("open", "passed")), deadlines.c.kind.in_(OBLIGATIONS)]
    source = deadlines.join(cases, cases.c.id == deadlines.c.case_id)
    count = sa.select(sa.func.count()).select_from(source).where(*where)
    page = (
        sa.select(deadlines.c.case_id, deadlines.c.number, deadlines.c.kind, deadlines.c.due, cases.c.state)
        .select_from(source)
        .where(*where)
        .order_by(deadlines.c.due, deadlines.c.breach_at, deadlines.c.case_id, deadlines.c.number)
        .limit(limit)
    )

    def run() -> Any:
        with engine.connect() as c:
            return c.execute(count).scalar_one(), c.execute(page).all()

    return run


def measure(engine: sa.Engine, name: str, repeat: int) -> None:
    service = ComplaintService(UnitOfWorkFactory(engine), shipped(), ManualClock(NOW))
    with engine.connect() as c:
        counts = {t.name: c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in (cases, deadlines)}
    print(f"{name}: {counts}", flush=True)
    base, (bare_total, _) = best(bare(engine, 50), repeat)
    base_500, _ = best(bare(engine, 500), repeat)
    print(f"  bare SELECT (count + 50 rows)      {base * 1000:8.1f} ms   ({bare_total} open or passed obligation rows)")
    print(f"  bare SELECT (count + 500 rows)     {base_500 * 1000:8.1f} ms")
    runs = [
        ("work", WorkQuery(), base),
        ("work due_before=2026-06-01", WorkQuery(due_before=date(2026, 6, 1)), base),
        ("work policy=livin", WorkQuery(policy="livin"), base),
        ("work handler=h", WorkQuery(handler="h"), base),
        ("work limit=500", WorkQuery(limit=500), base_500),
    ]
    for label, query, baseline in runs:
        took, page = best(lambda q=query: service.work(q), repeat)  # type: ignore[misc]
        print(f"  {label:<34} {took * 1000:8.1f} ms   total {page.total:>6}   ratio {baseline / took:.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    store_arguments(parser, 100_000, "bench_work")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    return on_each_backend(args, lambda engine, backend: measure(engine, backend, args.repeat))


if __name__ == "__main__":
    sys.exit(main())
