"""``complaints case open|show|event|history|allowed``: operators on the server, through the service layer."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from api.bootstrap import bootstrap
from api.cli import print_json
from storage.queries import CaseQuery
from workflow.calendar import LONDON
from workflow.errors import EventRefused
from workflow.vocabulary import STATES


def register(subparsers: Any) -> None:
    case = subparsers.add_parser("case", help="open, read and drive cases")
    sub = case.add_subparsers(dest="case_command", required=True)

    opened = sub.add_parser("open", help="open a case with a receive event")
    opened.add_argument("--policy", required=True, help="ID or ID@VERSION")
    _data_options(opened)
    opened.set_defaults(handler=_open)

    listing = sub.add_parser("list", help="find cases (the filters of GET /cases), oldest opening first")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--policy", help="ID or ID@VERSION")
    breach = listing.add_mutually_exclusive_group()
    breach.add_argument("--breached", dest="breached", action="store_const", const=True, help="at least one breach")
    breach.add_argument("--not-breached", dest="breached", action="store_const", const=False, help="no breach")
    listing.add_argument("--opened-from", metavar="INSTANT", help="opened at or after (a date is London midnight)")
    listing.add_argument("--opened-before", metavar="INSTANT", help="opened before (same reading)")
    listing.add_argument("--external-ref", help="the reference an imported case had (complaints import)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help="a case's state, deadlines and breaches")
    show.add_argument("case_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    event = sub.add_parser("event", help="apply one event to a case")
    event.add_argument("case_id")
    event.add_argument("name")
    _data_options(event)
    event.add_argument("--if-version", type=int, help="refuse unless the case is at this version")
    event.set_defaults(handler=_event)

    history = sub.add_parser("history", help="a case's event history")
    history.add_argument("case_id")
    history.add_argument("--json", action="store_true")
    history.set_defaults(handler=_history)

    allowed = sub.add_parser("allowed", help="every event: allowed now or not, and why")
    allowed.add_argument("case_id")
    allowed.add_argument("--json", action="store_true")
    allowed.set_defaults(handler=_allowed)


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="{}", help="the event's data as a JSON object")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="one data field (JSON value)")
    parser.add_argument("--occurred-at", help="ISO 8601 instant with offset (default: now)")
    parser.add_argument("--actor", default="cli")
    parser.add_argument("--json", action="store_true")


def _data(args: argparse.Namespace) -> dict[str, Any]:
    try:
        data = json.loads(args.data)
    except json.JSONDecodeError as err:
        raise EventRefused(["invalid_data"], {"data": f"not JSON: {err.msg}"}) from None
    if not isinstance(data, dict):
        raise EventRefused(["invalid_data"], {"data": "must be a JSON object"})
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise EventRefused(["invalid_data"], {key: "expected KEY=VALUE"})
        try:
            data[key] = json.loads(text)
        except json.JSONDecodeError:
            data[key] = text
    return data


def _occurred(args: argparse.Namespace) -> datetime | None:
    if not args.occurred_at:
        return None
    try:
        instant = datetime.fromisoformat(args.occurred_at)
    except ValueError:
        raise EventRefused(
            ["invalid_data"], {"occurred_at": f"{args.occurred_at!r} is not an ISO 8601 instant"}
        ) from None
    if instant.tzinfo is None:
        raise EventRefused(["invalid_data"], {"occurred_at": "needs a UTC offset"})
    return instant


def _print_case(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    print(f"case {view['id']}  policy {view['policy']}@{view['policy_version']}  version {view['version']}")
    closure = f" ({view['closure_reason']})" if view["closure_reason"] else ""
    print(f"  state: {view['state']}{closure}")
    for d in view["deadlines"]:
        print(f"  open: {d['kind']} due {d['due']}{' (window)' if d['window'] else ''}")
    print(f"  breaches: {', '.join(view['breaches']) or 'none'}")


def _open(args: argparse.Namespace) -> int:
    service = bootstrap().service
    _print_case(service.open_case(args.policy, _data(args), _occurred(args), args.actor), args.json)
    return 0


def _bound(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise EventRefused(["invalid_data"], {name: f"{text!r} is not an ISO 8601 date or instant"}) from None
    return (instant if instant.tzinfo else instant.replace(tzinfo=LONDON)).astimezone(UTC)


def _list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 500 or args.offset < 0:
        raise EventRefused(["invalid_data"], {"limit": "1 to 500, and --offset at least 0"})
    app = bootstrap()
    policy_id = policy_version = None
    if args.policy is not None:
        chosen = app.catalog.resolve(args.policy)
        policy_id, policy_version = chosen.id, (chosen.version if "@" in args.policy else None)
    query = CaseQuery(
        state=args.state,
        policy_id=policy_id,
        policy_version=policy_version,
        breached=args.breached,
        opened_from=_bound("opened_from", args.opened_from),
        opened_to=_bound("opened_before", args.opened_before),
        external_ref=args.external_ref,
    )
    page = app.service.find_cases(query, args.limit, args.offset)
    if args.json:
        print_json({"items": page.items, "total": page.total, "limit": page.limit, "offset": page.offset})
        return 0
    for c in page.items:
        closure = f" ({c['closure_reason']})" if c["closure_reason"] else ""
        print(
            f"{c['id']}  {c['policy']}@{c['policy_version']}  {c['state']}{closure}  v{c['version']}"
            f"  opened {c['opened_at']}  breaches {c['breaches']}"
        )
    shown = f"{args.offset + 1}-{args.offset + len(page.items)}" if page.items else "none"
    print(f"{shown} of {page.total}")
    return 0


def _show(args: argparse.Namespace) -> int:
    _print_case(bootstrap().service.get_case(args.case_id), args.json)
    return 0


def _event(args: argparse.Namespace) -> int:
    service = bootstrap().service
    view = service.apply(args.case_id, args.name, _data(args), _occurred(args), args.actor, args.if_version)
    _print_case(view, args.json)
    return 0


def _history(args: argparse.Namespace) -> int:
    records = bootstrap().service.history(args.case_id)
    if args.json:
        print_json([r.to_dict() for r in records])
        return 0
    for r in records:
        print(
            f"{r.seq:>3} {r.occurred_at.isoformat()}  {r.name:<20} {r.state_before} -> {r.state_after}"
            f"  by {r.actor}  {json.dumps(r.data)}"
        )
    return 0


def _allowed(args: argparse.Namespace) -> int:
    rows = bootstrap().service.allowed(args.case_id)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        verdict = "allowed" if row["allowed"] else "refused: " + ", ".join(row["reasons"])
        print(f"{row['event']:<20} {verdict}")
    return 0
