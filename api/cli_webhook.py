"""``complaints webhook add|list|remove|deliveries|redeliver``: webhook subscriptions, on the server.

The same service as ``/webhooks`` (service/webhooks.py); ``add`` prints the secret once. Deliveries are
sent by ``complaints serve`` (every instance), not by these commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from api.bootstrap import Settings, bootstrap
from api.cli import print_json
from service.webhooks import Webhooks
from workflow.errors import ComplaintsError, EventRefused


def register(subparsers: Any) -> None:
    webhook = subparsers.add_parser("webhook", help="webhook subscriptions and their deliveries")
    sub = webhook.add_subparsers(dest="webhook_command", required=True)
    add = sub.add_parser("add", help="subscribe URL; prints the signing secret (shown once)")
    add.add_argument("url")
    add.add_argument("--type", dest="types", action="append", metavar="TYPE",
                     help="only this event type (repeat; default: every type), e.g. deadline_passed")  # fmt: skip
    add.add_argument("--after", metavar="CURSOR", help="start after this feed cursor (default: from now on)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=_add)
    listing = sub.add_parser("list", help="every subscription: status, types, pending deliveries")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    remove = sub.add_parser("remove", help="delete a subscription (and what it has not yet delivered)")
    remove.add_argument("id")
    remove.set_defaults(handler=_remove)
    log = sub.add_parser("deliveries", help="a subscription's deliveries, newest first")
    log.add_argument("id")
    log.add_argument("--status", choices=("pending", "sending", "delivered", "failed"))
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--json", action="store_true")
    log.set_defaults(handler=_deliveries)
    again = sub.add_parser("redeliver", help="send a delivery again now (by delivery id)")
    again.add_argument("delivery_id", type=int)
    again.set_defaults(handler=_redeliver)


def _hooks() -> Webhooks:
    app = bootstrap(Settings())
    return Webhooks(app.engine, app.clock)


def _checked(work: Callable[[], Any]) -> Any:
    """Bad input is ``error: invalid_data: ...`` and exit 2 on the command line."""
    try:
        return work()
    except EventRefused as err:
        detail = "; ".join(f"{k}: {v}" for k, v in err.details.items())
        raise ComplaintsError(detail, code="invalid_data") from None


def _add(args: argparse.Namespace) -> int:
    hooks = _hooks()
    sub = _checked(lambda: hooks.add(args.url, args.types, args.after))
    if args.json:
        print_json(sub)
        return 0
    print(sub["secret"])
    types = ", ".join(sub["types"]) or "every type"
    print(f"webhook {sub['id']} -> {sub['url']} ({types}); the secret above is shown once", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = _hooks().list()
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        types = ",".join(t.rsplit(".", 1)[-1] for t in row["types"]) or "*"
        print(f"{row['id']}  {row['status']:<8} pending {row['pending']:<6} {row['url']}  [{types}]")
    print(f"{len(rows)} subscription{'s' if len(rows) != 1 else ''}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    _hooks().remove(args.id)
    print(f"webhook {args.id} removed")
    return 0


def _deliveries(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ComplaintsError("--limit must be at least 1", code="invalid_data")
    rows = _hooks().deliveries(args.id, args.limit, args.status)
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        code = r["last_status_code"] if r["last_status_code"] is not None else "-"
        print(f"{r['id']:>8}  {r['status']:<9} attempts {r['attempts']:<3} last {code!s:<4} {r['type']} "
              f"case {r['case_id']}" + (f"  ({r['last_error']})" if r["last_error"] else ""))  # fmt: skip
    return 0


def _redeliver(args: argparse.Namespace) -> int:
    found = _hooks().redeliver(args.delivery_id)
    print(f"delivery {found['id']} queued again ({found['type']}, case {found['case_id']})")
    return 0
