"""``complaints serve`` (the HTTP API and the deadline timers) and ``complaints deadlines list``.

``serve`` wires the timers into the one composition root: the service's
``on_deadlines`` hook plans wake-ups, the timers call back ``fire_due``. The
timers start before uvicorn and stop after it returns (uvicorn turns SIGTERM
and SIGINT into a graceful shutdown), so a stop never leaves a batch half
written: whatever did not fire stays open in the table and fires at the next
start. A database that cannot be opened ends with one line from ``api.cli``.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from typing import Any

from api.bootstrap import Settings, bootstrap
from api.cli import print_json
from api.delivery_process import delivery_worker
from api.serve_workers import check_workers, run_workers, with_timers
from api.shared_clock import share_clock
from scheduler.clock import ShiftedClock
from scheduler.timers import DeadlineTimers
from service.logs import configure_logging
from workflow.calendar import breach_instant, start_of_local_day
from workflow.clock import Clock, SystemClock
from workflow.errors import ComplaintsError
from workflow.vocabulary import DEADLINE_KINDS, WINDOWS


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="serve the HTTP API and fire deadlines as they pass")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on one socket, each firing deadlines too (PostgreSQL only; docs/operators.md)",
    )
    serve.add_argument(
        "--clock-start",
        metavar="INSTANT",
        help="rehearsals and tests only: the service's clock starts at this ISO instant (with offset) "
        "and runs at real speed; never on a live store",
    )
    serve.set_defaults(handler=_serve)

    deadlines = subparsers.add_parser("deadlines", help="the open deadlines the timers will fire")
    sub = deadlines.add_subparsers(dest="deadlines_command", required=True)
    listing = sub.add_parser("list", help="open deadlines, earliest breach first")
    listing.add_argument("--due-before", metavar="DATE", help="only those due before DATE (YYYY-MM-DD, London)")
    listing.add_argument("--kind", help=f"only this kind: {', '.join(DEADLINE_KINDS)}")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_deadlines_list)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    configure_logging(settings.log_level)
    check_workers(args.workers, settings)
    clock: Clock = ShiftedClock(_instant(args.clock_start, "--clock-start")) if args.clock_start else SystemClock()
    if args.workers > 1:
        return _serve_workers(args, settings, clock)
    timers = DeadlineTimers(clock, sweep_seconds=settings.sweep_seconds)
    app = bootstrap(settings, clock=clock, on_deadlines=timers.deadlines_changed)
    worker = delivery_worker(app)  # webhooks and due-soon reminders, in a child (api/delivery_process.py)
    server = uvicorn.Server(
        uvicorn.Config(
            with_timers(app, timers, worker), host=args.host, port=args.port, access_log=False, log_level="info"
        )
    )
    url = f"http://{args.host}:{args.port}"
    database = app.engine.url.render_as_string(hide_password=True)
    print(
        f"complaints: serving {url} (OpenAPI at {url}/docs) and the deadline timers on {database}; "
        "get a token with: complaints token create --role admin --name me",
        flush=True,
    )
    try:
        server.run()
    finally:
        timers.stop()  # already stopped by the lifespan, unless startup failed
        app.engine.dispose()
    return 0


def _serve_workers(args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    """``--workers N``: migrate and check the database here once, then let uvicorn's supervisor run N workers."""
    app = bootstrap(settings, clock=clock)
    database = app.engine.url.render_as_string(hide_password=True)
    app.engine.dispose()
    share_clock(clock)
    url = f"http://{args.host}:{args.port}"
    print(
        f"complaints: serving {url} (OpenAPI at {url}/docs) with {args.workers} workers, each with the deadline "
        f"timers, on {database}; get a token with: complaints token create --role admin --name me",
        flush=True,
    )
    run_workers(args.host, args.port, args.workers)
    return 0


def _deadlines_list(args: argparse.Namespace) -> int:
    if args.kind is not None and args.kind not in DEADLINE_KINDS:
        raise ComplaintsError(f"--kind {args.kind!r}: kinds are {', '.join(DEADLINE_KINDS)}", code="invalid_data")
    if args.limit < 1:
        raise ComplaintsError("--limit must be at least 1", code="invalid_data")
    before = None
    if args.due_before is not None:
        try:
            before = start_of_local_day(date.fromisoformat(args.due_before))  # due < DATE: passed by DATE's start
        except ValueError:
            detail = f"--due-before {args.due_before!r} is not a date (YYYY-MM-DD)"
            raise ComplaintsError(detail, code="invalid_data") from None
    app = bootstrap(Settings())
    rows = app.service.open_deadlines(before, args.kind, args.limit + 1)
    more, rows = len(rows) > args.limit, rows[: args.limit]
    now = app.clock.now()
    for row in rows:
        row["due"] = row["due"].isoformat()
        row["overdue"] = breach_instant(date.fromisoformat(row["due"])) <= now
        row["window"] = row["kind"] in WINDOWS
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        mark = "  OVERDUE" if row["overdue"] else ""
        print(
            f"{row['due']}  passes {row['breach_at'].isoformat()}  {row['kind']:<24} "
            f"case {row['case_id']} #{row['number']}{mark}"
        )
    shown = f"{len(rows)} open deadline{'s' if len(rows) != 1 else ''}"
    print(shown + (f" shown; more beyond --limit {args.limit}" if more else ""))
    return 0


def _instant(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ComplaintsError(f"{option} {text!r} is not an ISO 8601 instant", code="invalid_data") from None
    if value.tzinfo is None:
        raise ComplaintsError(f"{option} {text!r} needs a UTC offset (e.g. Z or +01:00)", code="invalid_data")
    return value
