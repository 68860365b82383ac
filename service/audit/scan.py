"""Running verify over many cases: the report, paged reads in one snapshot each, and worker processes.

A whole store is read a page of cases at a time (three range queries a page,
in one read transaction: REPEATABLE READ on PostgreSQL, a WAL snapshot on
SQLite), so a service writing meanwhile raises no false alarm. Pages may be
spread over worker processes (forked, or started fresh where this process
runs threads: ``_worker_context``): each opens its own engine, and none
inherits a connection or a thread.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.audit.checkpoint import Seen
from service.audit.verify import Problem, verify_against
from service.collector import fewer_collections
from storage.audit_reads import StoredCase, load_range
from storage.database import is_postgres, make_engine
from workflow.catalog import Catalog


@dataclass
class VerifyReport:
    cases: int = 0
    events: int = 0
    problems: list[Problem] = field(default_factory=list)
    replayed: int = 0  # cases replayed (the rest were unchanged since a checkpoint)
    seen: dict[str, Seen] = field(default_factory=dict)  # what to record for each case that verified clean
    checkpoint: bool = False  # whether a checkpoint was given

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def cases_with_problems(self) -> int:
        return len({p.case_id for p in self.problems})

    def add(self, part: VerifyReport) -> None:
        self.cases += part.cases
        self.events += part.events
        self.problems.extend(part.problems)
        self.replayed += part.replayed
        self.seen.update(part.seen)

    def summary_line(self) -> str:
        verdict = "all hold" if self.ok else f"{len(self.problems)} problem(s) in {self.cases_with_problems} case(s)"
        replayed = f" ({self.replayed} replayed, the rest unchanged since the checkpoint)" if self.checkpoint else ""
        return f"verified {self.cases} case(s), {self.events} event(s){replayed}: {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cases": self.cases,
            "events": self.events,
            "problems": [p.to_dict() for p in self.problems],
            **({"replayed": self.replayed} if self.checkpoint else {}),
        }


def read_connection(engine: Engine) -> sa.Connection:
    """A read-only connection whose statements see one snapshot per transaction."""
    connection = engine.connect().execution_options(complaints_write=False)
    if is_postgres(engine):
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


def verify_stored(
    stored: list[StoredCase], catalog: Catalog, known: dict[str, Seen], record: bool = True
) -> VerifyReport:
    report = VerifyReport()
    for case in stored:
        problems, now, replayed = verify_against(case, catalog, known.get(case.id), record)
        report.cases += 1
        report.events += len(case.events)
        report.replayed += replayed
        report.problems.extend(problems)
        if now is not None:
            report.seen[case.id] = now
    return report


def verify_pages(
    engine: Engine,
    catalog: Catalog,
    pages: list[tuple[str, str]],
    known: dict[str, Seen],
    record: bool = True,
    on_page: Callable[[VerifyReport], None] | None = None,
) -> VerifyReport:
    report = VerifyReport()
    with fewer_collections(), read_connection(engine) as connection:
        for first, last in pages:
            with connection.begin():
                stored = load_range(connection, first, last)
            part = verify_stored(stored, catalog, known, record)
            report.add(part)
            if on_page is not None:
                on_page(part)
    return report


_worker: dict[str, Any] = {}


def _worker_start(url: str, catalog: Catalog, known: dict[str, Seen], record: bool) -> None:
    _worker["engine"] = make_engine(url)
    _worker["catalog"] = catalog
    _worker["known"] = known
    _worker["record"] = record


def _worker_pages(pages: list[tuple[str, str]]) -> VerifyReport:
    return verify_pages(_worker["engine"], _worker["catalog"], pages, _worker["known"], _worker["record"])


def _worker_context() -> Any:
    """How workers start: forked when this process runs no other thread, else from a fresh interpreter.

    A fork starts in milliseconds where a spawned interpreter spends most of a second importing, which
    is a share of a nightly run; it is safe when no other thread can hold a lock at the fork, and no
    connection is inherited (``verify_parallel`` empties the pool first; each worker opens its own
    engine). A service process with threads (HTTP, timers) gets ``spawn``: nothing of its crosses over.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def verify_parallel(
    engine: Engine,
    catalog: Catalog,
    pages: list[tuple[str, str]],
    jobs: int,
    known: dict[str, Seen],
    on_page: Callable[[VerifyReport], None] | None = None,
    record: bool = True,
) -> VerifyReport:
    context = _worker_context()
    engine.dispose()  # no pooled connection of ours is open when workers fork (SQLAlchemy's advice for fork)
    url = engine.url.render_as_string(hide_password=False)
    size = max(1, len(pages) // (jobs * 16))  # many chunks a worker, so none is left waiting at the end
    chunks = [pages[i : i + size] for i in range(0, len(pages), size)]
    total = VerifyReport()
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_worker_start, initargs=(url, catalog, known, record)
    ) as pool:
        for part in pool.map(_worker_pages, chunks):
            total.add(part)
            if on_page is not None:
                on_page(part)
    return total
