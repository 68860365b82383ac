"""``complaints token create|list|revoke``: bearer tokens for the HTTP API, made on the server.

A token is printed once, when it is made; only its SHA-256 is stored. Its name
is the actor recorded on every event it fires.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.bootstrap import Settings, bootstrap
from api.cli import EXIT_BAD_INPUT, print_json
from api.tokens import ROLES, create_token, list_tokens, revoke_token


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="bearer tokens for the HTTP API")
    sub = token.add_subparsers(dest="token_command", required=True)

    create = sub.add_parser("create", help="make a token and print it (the only time it is shown)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", required=True, help="who uses it; recorded as the actor of its events")
    create.set_defaults(handler=_create)

    listing = sub.add_parser("list", help="every token: id, name, role, revoked (never the token)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    revoke = sub.add_parser("revoke", help="revoke a token by id (see token list)")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=_revoke)


def _create(args: argparse.Namespace) -> int:
    app = bootstrap(Settings())
    try:
        token = create_token(app.engine, args.name, args.role, app.clock.now())
    except ValueError as err:
        print(f"error: invalid_data: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(token)
    print(f"token for {args.name!r} ({args.role}); shown once, only its hash is kept", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = list_tokens(bootstrap(Settings()).engine)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        status = "revoked" if row["revoked"] else "active"
        print(f"{row['id']:>4}  {row['role']:<10} {status:<7} {row['name']}  (created {row['created_at']})")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if not revoke_token(bootstrap(Settings()).engine, args.id):
        print(f"error: not_found: no token {args.id}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"token {args.id} revoked")
    return 0
