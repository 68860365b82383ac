"""``complaints export``: the event log for process-mining tools (docs/process-mining.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import sqlalchemy as sa

from api.bootstrap import bootstrap
from api.progress import Progress
from service.event_log import FORMATS, export, log_filter
from storage.tables import events


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("export", help="the event log for process mining: XES, OCEL 2.0 JSON or CSV")
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--policy", help="ID (every version) or ID@VERSION")
    parser.add_argument("--since", help="events on or after this local date (YYYY-MM-DD)")
    parser.add_argument("--until", help="events on or before this local date (YYYY-MM-DD)")
    parser.add_argument("-o", "--output", required=True, help="the file to write ('-' for stdout)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    app = bootstrap()
    which = log_filter(app.catalog, args.policy, args.since, args.until)
    with app.engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(events).where(*which.where())).scalar_one()
    to_stdout = args.output == "-"
    out = sys.stdout if to_stdout else open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        with Progress("export", total=total, unit="events", quiet=args.quiet or to_stdout) as progress:
            for chunk in export(app.service.uow, args.format, which, progress.advance):
                out.write(chunk)
    finally:
        if not to_stdout:
            out.close()
    if not to_stdout:
        print(f"{total} events written to {args.output} ({args.format})")
    return 0
