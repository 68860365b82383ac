"""Benchmark: events posted over HTTP by concurrent clients vs the same events through the service in-process.

    .venv/bin/python bench/http.py [--clients 8] [--events 4000] [--backend sqlite|postgres|both]
                                   [--pg-url URL] [--log-level WARNING] [--workers 1,2]

For each backend: opens ``clients x 25`` cases, then
1. HTTP: ``complaints serve`` as a subprocess on loopback; ``--clients`` threads,
   each with its own keep-alive connection, post ``add_issue`` events (bearer
   token, a fresh ``Idempotency-Key`` each, as back-office systems send) to
   their own cases only;
2. baseline: the same number of events through ``ComplaintService.apply`` in
   this process, on the same number of threads, in the same run.
Prints events/s for both, their ratio, and p50/p99 latency. Targets (HTTP, on
SQLite, 2 cores): >= 500 events/s, p99 < 50 ms. ``--workers 1,2`` (PostgreSQL):
step 1 once per number of ``complaints serve --workers N`` processes, each on
fresh cases; the server's CPU is the supervisor's and its workers'.

PostgreSQL: ``--pg-url`` (or ``COMPLAINTS_BENCH_PG_URL``) names an empty
database; without one a throwaway server is started as tests/pg_server.py does.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file would shadow the standard `http`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from api.bootstrap import App, Settings, bootstrap  # noqa: E402
from api.http.deps import create_token  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from storage.write_lock import writing  # noqa: E402
from tests.e2e.serve_process import start_serve  # noqa: E402

CASES_PER_CLIENT = 25
RECEIVE = {"channel": "email", "incident_date": "2026-11-02", "formal": True}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_clients(clients: int, per_client: int, send: Callable[[int, int], None]) -> tuple[float, list[float]]:
    """``send(client, i)`` per_client times on each of ``clients`` threads released together."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def worker(client: int) -> None:
        start.wait()
        for i in range(per_client):
            t0 = time.perf_counter()
            send(client, i)
            latencies[client].append(time.perf_counter() - t0)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(worker, c) for c in range(clients)]
        start.wait()
        began = time.perf_counter()
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - began
    return elapsed, [x for per in latencies for x in per]


def open_cases(app: App, clients: int) -> list[list[str]]:
    return [
        [app.service.open_case("livin", RECEIVE, actor="bench")["id"] for _ in range(CASES_PER_CLIENT)]
        for _ in range(clients)
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of a process and its children (``serve --workers N``: the supervisor and its workers)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += tree_cpu_seconds(int(child))
    return total


def postmaster_pid(db_url: str) -> int | None:
    """The PostgreSQL server process listening on the URL's port on this machine (its ``-p PORT``), if found."""
    if not db_url.startswith("postgresql"):
        return None
    port = str(make_url(db_url).port or 5432)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"postgres") and b"-p" in args and port.encode() in args:
            return int(entry.name)
    return None


def database_cpu_seconds(pid: int | None) -> float:
    """CPU of the database server: the postmaster, its live backends and those that ended (reaped children)."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return tree_cpu_seconds(pid) + reaped


def over_http(
    db_url: str, token: str, owned: list[list[str]], per_client: int, log: Path, workers: int = 1
) -> tuple[float, list[float], float]:
    env = {"COMPLAINTS_LOG_LEVEL": os.environ["COMPLAINTS_LOG_LEVEL"]}
    server = start_serve(db_url, log, extra_env=env, extra_args=["--workers", str(workers)] if workers > 1 else [])
    port = int(server.url.rsplit(":", 1)[1])
    # The standard library's client (one keep-alive connection per client): it costs the load generator a
    # fifth of what httpx does, and the load generator shares the machine's two cores with the server.
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in owned]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    failures: list[str] = []

    def send(client: int, i: int) -> None:
        case_id = owned[client][i % CASES_PER_CLIENT]
        body = json.dumps({"name": "add_issue", "data": {"description": f"issue {i}"}})
        connection = connections[client]
        connection.request("POST", f"/cases/{case_id}/events", body, {**headers, "Idempotency-Key": uuid.uuid4().hex})
        answer = connection.getresponse()
        text = answer.read()
        if answer.status != 200:
            failures.append(f"{answer.status} {text[:200]!r}")

    try:
        for client in range(len(owned)):  # warm up: connections open, first-request costs paid
            send(client, 0)
        database = postmaster_pid(db_url)
        cpu_before, client_before = tree_cpu_seconds(server.process.pid), time.process_time()
        database_before = database_cpu_seconds(database)
        elapsed, latencies = run_clients(len(owned), per_client, send)
        server_cpu = tree_cpu_seconds(server.process.pid) - cpu_before
        database_cpu = database_cpu_seconds(database) - database_before
        client_cpu = time.process_time() - client_before
        print(
            f"  (CPU per request: load generator {client_cpu / len(latencies) * 1000:.2f} ms"
            + (f", PostgreSQL {database_cpu / len(latencies) * 1000:.2f} ms)" if database else ")")
        )
    finally:
        for connection in connections:
            connection.close()
        server.stop()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed, latencies, server_cpu


def in_process(app: App, owned: list[list[str]], per_client: int) -> tuple[float, list[float], float]:
    """The same events through the service, writers queued on the same per-process lock as the HTTP layer's."""

    def send(client: int, i: int) -> None:
        with writing(app.engine):
            app.service.apply(owned[client][i % CASES_PER_CLIENT], "add_issue", {"description": f"i {i}"}, actor="b")

    cpu_before = time.process_time()
    elapsed, latencies = run_clients(len(owned), per_client, send)
    return elapsed, latencies, time.process_time() - cpu_before


def measure_workers(db_url: str, clients: int, events: int, folder: Path, workers: list[int]) -> dict[str, float]:
    """Step 1 once per number of server processes, on fresh cases each time, on one database."""
    app = bootstrap(Settings(db_url=db_url))
    token = create_token(app.engine, "bench-workers", "automation", app.clock.now())
    per_client = events // clients
    total = per_client * clients
    figures: dict[str, float] = {}
    for n in workers:
        owned = open_cases(app, clients)
        seconds, latencies, cpu = over_http(db_url, token, owned, per_client, folder / f"serve-w{n}.log", n)
        rate, p50, p99 = total / seconds, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        figures.update({f"w{n}_events_per_s": rate, f"w{n}_p50_ms": p50, f"w{n}_p99_ms": p99})
        verdict = "met" if rate >= 500 and p99 < 50 else "MISSED"
        print(
            f"  HTTP, serve --workers {n}: {rate:,.0f} events/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
            f"server CPU {cpu / total * 1000:.2f} ms/event; load {os.getloadavg()[0]:.1f}; "
            f"target >= 500 events/s, p99 < 50 ms: {verdict}"
        )
    app.engine.dispose()
    if len(workers) > 1:
        first, last = workers[0], workers[-1]
        ratio = figures[f"w{last}_events_per_s"] / figures[f"w{first}_events_per_s"]
        print(f"  ratio {last} workers / {first}: {ratio:.2f}")
    return figures


def measure(name: str, db_url: str, clients: int, events: int, folder: Path) -> dict[str, float]:
    app = bootstrap(Settings(db_url=db_url))
    token = create_token(app.engine, "bench", "automation", app.clock.now())
    per_client = events // clients
    total = per_client * clients
    http_cases, local_cases = open_cases(app, clients), open_cases(app, clients)
    http_s, http_lat, http_cpu = over_http(db_url, token, http_cases, per_client, folder / f"serve-{name}.log")
    local_s, local_lat, local_cpu = in_process(app, local_cases, per_client)
    app.engine.dispose()
    figures = {
        "http_events_per_s": total / http_s,
        "http_p50_ms": percentile(http_lat, 50) * 1000,
        "http_p99_ms": percentile(http_lat, 99) * 1000,
        "service_events_per_s": total / local_s,
        "service_p50_ms": percentile(local_lat, 50) * 1000,
        "service_p99_ms": percentile(local_lat, 99) * 1000,
        "http_server_cpu_ms_per_event": http_cpu / total * 1000,
        "service_cpu_ms_per_event": local_cpu / total * 1000,
    }
    figures["ratio_http_to_service"] = figures["http_events_per_s"] / figures["service_events_per_s"]
    print(f"{name}: {total} events, {clients} concurrent clients, distinct cases")
    print(
        f"  HTTP (complaints serve, loopback): {figures['http_events_per_s']:,.0f} events/s, "
        f"p50 {figures['http_p50_ms']:.1f} ms, p99 {figures['http_p99_ms']:.1f} ms; "
        f"server CPU {figures['http_server_cpu_ms_per_event']:.2f} ms/event"
    )
    print(
        f"  service in-process:               {figures['service_events_per_s']:,.0f} events/s, "
        f"p50 {figures['service_p50_ms']:.1f} ms, p99 {figures['service_p99_ms']:.1f} ms; "
        f"CPU {figures['service_cpu_ms_per_event']:.2f} ms/event"
    )
    verdict = "met" if figures["http_events_per_s"] >= 500 and figures["http_p99_ms"] < 50 else "MISSED"
    print(
        f"  ratio HTTP/service: {figures['ratio_http_to_service']:.2f}; target >= 500 events/s, p99 < 50 ms: {verdict}"
    )
    load = os.getloadavg()[0]
    print(f"  load average during the run: {load:.1f} on {os.cpu_count()} cores")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get("COMPLAINTS_BENCH_PG_URL"))
    parser.add_argument("--log-level", default="WARNING", help="the service's log level, in both runs")
    parser.add_argument("--workers", help="PostgreSQL: also HTTP with serve --workers N for each N, e.g. 1,2")
    args = parser.parse_args()
    os.environ["COMPLAINTS_LOG_LEVEL"] = args.log_level
    configure_logging(args.log_level)
    print(f"cores: {os.cpu_count()}")
    results = {}
    workers = [int(n) for n in args.workers.split(",")] if args.workers else []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.backend in ("sqlite", "both"):
            results["sqlite"] = measure("sqlite", f"sqlite:///{folder}/bench.db", args.clients, args.events, folder)
        if args.backend in ("postgres", "both"):
            server = None
            url = args.pg_url
            if not url:
                from tests.pg_server import PgServer

                server = PgServer.start()
                url = server.make_database()
            try:
                results["postgres"] = measure("postgres", url, args.clients, args.events, folder)
                if workers:
                    print(f"postgres: serve --workers {args.workers}, {args.events} events each")
                    results["postgres_workers"] = measure_workers(url, args.clients, args.events, folder, workers)
            finally:
                if server is not None:
                    server.stop()
    print(json.dumps({k: {f: round(v, 2) for f, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    main()
