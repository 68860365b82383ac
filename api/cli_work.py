"""``complaints work``: the work list on the command line, the same filters and numbers as ``GET /work``.

A table by default (overdue first, a ``!`` beside each breach), ``--json``
for the same page ``GET /work`` answers. A bad filter is ``error:
invalid_data: FIELD: why`` and exit 2, from the service's own checks.
"""

from __future__ import annotations

import argparse
from typing import Any

from api.bootstrap import bootstrap
from api.cli import print_json
from service.work import WorkItem, WorkPage, WorkQuery, parse_date


def register(subparsers: Any) -> None:
    work = subparsers.add_parser("work", help="the work list: open obligations in due order, working days left")
    work.add_argument("--due-before", metavar="DATE", help="only obligations due before this date (YYYY-MM-DD)")
    work.add_argument("--kind", help="one obligation kind, e.g. stage_1_response")
    # dest is not "handler": that name carries each sub-command's function (api/cli.py)
    work.add_argument("--handler", dest="handler_name", metavar="NAME", help="the case's handler (any letter case)")
    work.add_argument("--policy", help="ID or ID@VERSION")
    work.add_argument("--state", help="the case's state now")
    work.add_argument("--limit", type=int, default=50, help="1 to 500 (default 50)")
    work.add_argument("--offset", type=int, default=0)
    work.add_argument("--json", action="store_true", help="the page as GET /work answers it")
    work.set_defaults(handler=_work)


def _work(args: argparse.Namespace) -> int:
    due_before = parse_date("due_before", args.due_before)
    query = WorkQuery(due_before, args.kind, args.handler_name, args.policy, args.state, args.limit, args.offset)
    page = bootstrap().service.work(query)
    if args.json:
        print_json(page.to_dict())
        return 0
    print_table(page)
    return 0


HEADINGS = ("due", "days left", "kind", "case", "policy", "state", "handler")


def _cells(item: WorkItem) -> tuple[str, ...]:
    days = f"{item.working_days_left}{' !' if item.breached else ''}"
    policy = f"{item.policy_id}@{item.policy_version}"
    return (item.due.isoformat(), days, item.kind, item.case_id, policy, item.state, item.handler or "-")


def print_table(page: WorkPage) -> None:
    rows = [HEADINGS, *(_cells(i) for i in page.items)]
    widths = [max(len(r[c]) for r in rows) for c in range(len(HEADINGS))]
    for r in rows:
        print(
            "  ".join(
                cell.rjust(w) if c == 1 else cell.ljust(w) for c, (cell, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    shown = f"{page.offset + 1}-{page.offset + len(page.items)}" if page.items else "none"
    today = f" (working days counted from {page.today.isoformat()}, London)" if page.today else ""
    print(f"{shown} of {page.total}{today}")
