"""Benchmark: events applied through the service vs bare SQLAlchemy Core writes, on an SQLite file.

    .venv/bin/python bench/apply.py [--cases 2000] [--memory-cases 100000]

Part 1 drives N cases along a realistic path (receive, acknowledge, respond,
request_escalation, stage 2 acknowledge, respond: 6 events) through
ComplaintService, then writes the same number of event rows plus case-row
updates with bare Core, one transaction each, in the same run. Target: ratio
>= 0.5.

Part 2 opens many cases and reports the process's memory as the store grows:
it must stay flat (the service holds no case in memory after its command).

Part 3 (``--webhooks [--receiver-nice N] [--turns 2] [--backend sqlite|postgres] [--pg-url URL]``): part 1's
service path with 2 webhook subscriptions delivered meanwhile to a loopback receiver (its own process), by the
delivery child ``complaints serve`` starts (this process's child, api/delivery_process.py), against none, in turns:
target ratio >= 0.9. On SQLite the child runs at serve's own CPU priority by default; it is also
measured at a lower one (``COMPLAINTS_DELIVERY_NICE=10``, PostgreSQL's default: api/delivery_process.py
says why not SQLite's), and, for comparison, delivery by a thread of this process (how serve delivered
before). With ``--backend postgres`` each turn of each mode gets a fresh database on ``--pg-url``'s server
(or ``COMPLAINTS_BENCH_PG_URL``'s, else a throwaway cluster: tests/pg_server.py).
Each shows its serving CPU per event (this process and its delivery child; the receiver's CPU in no run),
how many deliveries were outstanding when the commands finished, and how long delivery then took to catch
up. The receiver stands for a remote system and runs at this process's priority unless
``--receiver-nice`` lowers it (the output says which).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# this file's folder comes first on sys.path when run as a script: bench/http.py would shadow the standard `http`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from api.bootstrap import Settings, bootstrap  # noqa: E402
from service.logs import configure_logging  # noqa: E402
from storage.tables import cases, events  # noqa: E402
from workflow.clock import SystemClock  # noqa: E402

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
RECEIVE = {"channel": "email", "incident_date": "2027-01-01", "formal": True}
ACK_1 = {"handler": "ben", "handler_role": "officer", "complaint_definition": "Damp", "outcomes_sought": "Fix"}
ACK_2 = {"handler": "cara", "handler_role": "director", "complaint_definition": "Damp", "outcomes_sought": "Fix"}
LETTER = {
    "decision": "upheld",
    "reasons": "late",
    "remedy": "repair",
    "outstanding_actions": "none",
    "escalation_route": "stage 2",
    "ombudsman_info": "HOS",
}
PATH = [
    ("acknowledge", ACK_1, 1),
    ("respond", LETTER, 5),
    ("request_escalation", {"requested_by": "customer"}, 6),
    ("acknowledge", ACK_2, 7),
    ("respond", LETTER, 12),
]


# The hash-chain columns, when the schema has them: the baseline writes a row of the same shape.
HASHES = {"prev_hash": "0" * 64, "hash": "0" * 64} if "hash" in events.c else {}


class SettableClock:
    def __init__(self) -> None:
        self.instant = T0

    def now(self) -> datetime:
        return self.instant


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def through_service(
    url: str, n_cases: int, webhooks: int = 0, where: str = "child"
) -> tuple[int, float, int, float, tuple[int, float]]:
    """Events applied, seconds, webhook deliveries made meanwhile (0 without subscriptions), the CPU seconds
    of the serving side (this process, its delivery worker's thread when it has one, and its delivery
    child's over the same span; the receiver's own CPU is in none of them), and the lag: deliveries not yet
    made when the commands finished, and the seconds delivery then took to catch up (bounded: 60 s)."""
    clock = SettableClock()
    app = bootstrap(Settings(db_url=url), clock=clock)
    stop, child_cpu = _with_webhooks(url, app, webhooks, where)  # part 3: subscriptions delivered meanwhile
    count = 0
    start, cpu, child = time.perf_counter(), time.process_time(), child_cpu()
    for _ in range(n_cases):
        clock.instant = T0
        case_id = app.service.open_case("code_2024", RECEIVE)["id"]
        count += 1
        for name, data, day in PATH:
            clock.instant = T0 + timedelta(days=day)
            app.service.apply(case_id, name, data)
            count += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu + child_cpu() - child
    delivered, lag = 0, (0, 0.0)
    if webhooks:
        lag = _catch_up(app.engine, webhooks * count)
        delivered = _delivered(app.engine)
    stop()
    app.engine.dispose()
    return count, elapsed, delivered, cpu, lag


def _delivered(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")).scalar_one()


def _catch_up(engine: sa.Engine, expected: int, bound: float = 60.0) -> tuple[int, float]:
    """Deliveries outstanding when the commands finished, and how long until every one was recorded
    delivered (a round's sends are recorded by the next round: that is in the time)."""
    outstanding = expected - _delivered(engine)
    start = time.perf_counter()
    while _delivered(engine) < expected and time.perf_counter() - start < bound:
        time.sleep(0.05)
    return outstanding, time.perf_counter() - start


def _proc_cpu(pid: int) -> float:
    """A live process's CPU seconds (user + system) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _with_webhooks(url: str, app: object, n: int, where: str) -> tuple[Callable[[], None], Callable[[], float]]:
    """``n`` subscriptions to a loopback receiver (another process: bench/hooks_support.py), delivered while
    the commands run: by the delivery child ``complaints serve`` starts (``where="child"``, the real
    arrangement: api/delivery_process.py), or by a worker thread of this process (``where="thread"``, how
    serve delivered before). Returns what stops them, and the delivery child's CPU seconds so far (0
    without one)."""
    if n == 0:
        return (lambda: None), (lambda: 0.0)
    from api.background import background_worker
    from api.delivery_process import DeliveryProcess
    from bench.hooks_support import start_receiver
    from service.webhooks import Webhooks

    receiver, hook_url = start_receiver(nice=RECEIVER_NICE)
    hooks = Webhooks(app.engine, SystemClock())  # type: ignore[attr-defined]
    for _ in range(n):
        hooks.add(hook_url)
    if where == "thread":
        worker = background_worker(app)  # type: ignore[arg-type]
        assert worker is not None
        worker.start()
        time.sleep(0.5)

        def stop() -> None:
            worker.stop()
            receiver.terminate()

        return stop, (lambda: 0.0)
    child = DeliveryProcess(Settings(db_url=url))  # what serve starts (delivery_worker), with the store's URL
    child.start()
    time.sleep(3)  # serve starts it before it takes requests: it is up and polling before the commands start

    def stop_child() -> None:
        child.stop()
        receiver.terminate()

    return stop_child, (lambda: _proc_cpu(child.process.pid))


def bare_core(url: str, n_events: int) -> float:
    app = bootstrap(Settings(db_url=url))
    engine = app.engine
    snapshot = {"state": "stage_1", "deadlines": [{"kind": "stage_1_response", "due": "2027-01-18"}] * 4}
    start = time.perf_counter()
    case_no = 0
    for i in range(n_events):
        with engine.begin() as c:
            if i % 6 == 0:
                case_no += 1
                c.execute(
                    sa.insert(cases).values(
                        id=f"bare-{case_no}",
                        policy_id="code_2024",
                        policy_version=1,
                        state="stage_1",
                        version=0,
                        opened_at=T0,
                        updated_at=T0,
                        snapshot=snapshot,
                    )
                )
            c.execute(
                sa.insert(events).values(
                    case_id=f"bare-{case_no}",
                    seq=i % 6 + 1,
                    name="add_issue",
                    data={"description": "x"},
                    occurred_at=T0,
                    recorded_at=T0,
                    actor="bench",
                    policy_id="code_2024",
                    policy_version=1,
                    state_before="stage_1",
                    state_after="stage_1",
                    **HASHES,
                )
            )
            c.execute(
                sa.update(cases).where(cases.c.id == f"bare-{case_no}").values(version=i % 6 + 1, snapshot=snapshot)
            )
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def memory_growth(url: str, n_cases: int) -> list[tuple[int, float]]:
    clock = SettableClock()
    app = bootstrap(Settings(db_url=url), clock=clock)
    points = []
    step = max(n_cases // 5, 1)
    for i in range(1, n_cases + 1):
        app.service.open_case("code_2024", RECEIVE)
        if i % step == 0:
            gc.collect()
            points.append((i, rss_mb()))
    app.engine.dispose()
    return points


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--memory-cases", type=int, default=100_000)
    parser.add_argument("--webhooks", action="store_true", help="part 3 only: the rate with 2 subscriptions")
    parser.add_argument("--receiver-nice", type=int, default=0, help="part 3: run the receiver at this nice")
    parser.add_argument("--turns", type=int, default=2, help="part 3: turns of each mode (the best counts)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                        help="part 3: the store (postgres: COMPLAINTS_BENCH_PG_URL's server, else a throwaway one)")
    parser.add_argument("--pg-url", default=os.environ.get("COMPLAINTS_BENCH_PG_URL"),
                        help="part 3 on postgres: a server's URL, to make (and drop) its databases on")
    args = parser.parse_args()
    configure_logging("WARNING")
    if args.webhooks:
        global RECEIVER_NICE
        RECEIVER_NICE = args.receiver_nice
        if args.backend == "postgres":
            _webhooks_on_postgres(args.pg_url, args.cases, args.turns)
            return
        with tempfile.TemporaryDirectory() as tmp:
            webhooks_part(lambda name: f"sqlite:///{tmp}/{name}.db", args.cases, args.turns)
        return
    with tempfile.TemporaryDirectory() as tmp:
        n_events, service_s, _, _, _ = through_service(f"sqlite:///{tmp}/service.db", args.cases)
        bare_s = bare_core(f"sqlite:///{tmp}/bare.db", n_events)
        service_rate, bare_rate = n_events / service_s, n_events / bare_s
        print(f"cores: {os.cpu_count()}")
        print(f"service: {n_events} events in {service_s:.2f} s = {service_rate:,.0f} events/s")
        print(f"bare Core: {n_events} event rows + case updates in {bare_s:.2f} s = {bare_rate:,.0f} events/s")
        print(f"ratio service/bare: {service_rate / bare_rate:.2f} (target >= 0.5)")
        points = memory_growth(f"sqlite:///{tmp}/memory.db", args.memory_cases)
        for opened, mb in points:
            print(f"memory after opening {opened:>7,} cases: {mb:.1f} MB RSS")
        growth = points[-1][1] - points[0][1]
        print(
            json.dumps(
                {
                    "service_events_per_s": round(service_rate),
                    "bare_events_per_s": round(bare_rate),
                    "ratio": round(service_rate / bare_rate, 3),
                    "rss_growth_mb": round(growth, 1),
                }
            )
        )


MODES = {  # mode: (subscriptions, where delivery runs, the delivery child's nice; None: serve's default)
    "none": (0, "child", None),
    "child": (2, "child", None),
    "child_nice10": (2, "child", "10"),
    "thread": (2, "thread", None),
}
LABELS = {
    "child": "by serve's delivery child (at its default priority: SQLite serve's own, PostgreSQL nice 10)",
    "child_nice10": "by serve's delivery child at a lower CPU priority (COMPLAINTS_DELIVERY_NICE=10)",
    "thread": "by a thread of this process (before)",
}


def _webhooks_on_postgres(admin_url: str | None, n_cases: int, turns: int) -> None:
    """Part 3 on PostgreSQL: a fresh database for each turn of each mode, made on the given server (and dropped
    after) or on a throwaway cluster (tests/pg_server.py); on PostgreSQL no writer holds a file, so commands
    wait only on rows."""
    from tests.pg_server import PgServer

    server = PgServer(admin_url) if admin_url else PgServer.start()
    try:
        webhooks_part(lambda _name: server.make_database(), n_cases, turns, backend="postgres")
    finally:
        server.stop()


def webhooks_part(url_for: Callable[[str], str], n_cases: int, turns: int = 2, backend: str = "sqlite") -> None:
    """Part 3: the command path with 2 webhook subscriptions being delivered, against none, in turns (the best
    of each counts: contention on a shared machine only ever adds time). Delivered by serve's delivery
    child (the real arrangement, at its default lower priority, and at serve's own), and, for comparison,
    by a worker thread of this process. Each shows how far delivery lagged when the commands finished."""
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}  # the serving side's CPU seconds per event
    delivered: dict[str, int] = {mode: 0 for mode in MODES}
    lags: dict[str, list[tuple[int, float]]] = {mode: [] for mode in MODES}
    for turn in range(turns):
        for mode, (subs, where, nice) in MODES.items():
            with _environ("COMPLAINTS_DELIVERY_NICE", nice):
                n, seconds, sent, used, lag = through_service(url_for(f"hooks-{turn}-{mode}"), n_cases, subs,
                                                              where)  # fmt: skip
            rates[mode].append(n / seconds)
            cpu[mode].append(used / n)
            delivered[mode] = max(delivered[mode], sent)
            lags[mode].append(lag)
    best = {mode: max(r) for mode, r in rates.items()}
    least = {mode: min(c) for mode, c in cpu.items()}
    without = best["none"]
    print(f"{backend}; cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f}; "
          f"the receiver runs at nice {RECEIVER_NICE}"
          + (" (lowered for this run: --receiver-nice)" if RECEIVER_NICE else " (as this process)"))  # fmt: skip
    turns_text = ", ".join(f"{r:,.0f}" for r in rates["none"])
    print(f"service, no subscriptions: {without:,.0f} events/s (turns: {turns_text}); "
          f"CPU {least['none'] * 1e6:,.0f} us per event")  # fmt: skip
    for mode, label in LABELS.items():
        ratio = best[mode] / without
        behind = max(lags[mode])
        print(f"service, 2 subscriptions delivered {label}: {best[mode]:,.0f} events/s "
              f"(turns: {', '.join(f'{r:,.0f}' for r in rates[mode])}); ratio {ratio:.2f} (target >= 0.9); "
              f"serving CPU {least[mode] * 1e6:,.0f} us per event; {delivered[mode]:,} delivered; "
              f"when the commands finished, at most {behind[0]:,} deliveries were outstanding, "
              f"delivered within {max(t for _, t in lags[mode]):.1f} s")  # fmt: skip
    print(json.dumps({"backend": backend, "without": round(without), "receiver_nice": RECEIVER_NICE,
                      **{f"with_2_{mode}": round(best[mode]) for mode in LABELS},
                      **{f"ratio_{mode}": round(best[mode] / without, 3) for mode in LABELS},
                      "lag": {mode: [max(o for o, _ in lags[mode]), round(max(t for _, t in lags[mode]), 2)]
                              for mode in LABELS},
                      "cpu_us_per_event": {mode: round(c * 1e6) for mode, c in least.items()}}))  # fmt: skip


RECEIVER_NICE = 0


@contextlib.contextmanager
def _environ(name: str, value: str | None) -> Iterator[None]:
    """``name`` set to ``value`` for the block (None: left as it is): the delivery child reads it at start."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


if __name__ == "__main__":
    main()
