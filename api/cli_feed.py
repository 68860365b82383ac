"""``complaints feed tail [--after CURSOR] [--follow]``: the back-office feed, one CloudEvent (JSON) a line.

The same entries as ``GET /feed`` (service/feed.py), read from the database at ``COMPLAINTS_DB_URL``.
``--follow`` keeps polling for new entries until interrupted; the last cursor printed (stderr, on exit)
is where to resume.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from api.bootstrap import Settings, bootstrap
from service.feed import MAX_LIMIT, Feed
from storage.feed_queries import BadCursor, parse_cursor
from workflow.errors import ComplaintsError, EventRefused

POLL_SECONDS = 0.5


def register(subparsers: Any) -> None:
    feed = subparsers.add_parser("feed", help="the store-wide event feed (CloudEvents) for back-office systems")
    sub = feed.add_subparsers(dest="feed_command", required=True)
    tail = sub.add_parser("tail", help="print feed entries after a cursor, one JSON object a line")
    tail.add_argument("--after", default=None, metavar="CURSOR", help="start after this cursor (default: start)")
    tail.add_argument("--limit", type=int, default=None, help="stop after this many entries")
    tail.add_argument("--follow", action="store_true", help="keep waiting for new entries (Ctrl-C to stop)")
    tail.set_defaults(handler=_tail)


def _tail(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ComplaintsError("--limit must be at least 1", code="invalid_data")
    try:
        parse_cursor(args.after)
    except BadCursor as err:
        raise ComplaintsError(f"--after: {err}", code="invalid_data") from None
    feed = Feed(bootstrap(Settings()).engine)
    cursor = args.after
    printed = 0
    try:
        while True:
            want = MAX_LIMIT if args.limit is None else min(MAX_LIMIT, args.limit - printed)
            try:
                page = feed.page(cursor, want)
            except EventRefused as err:  # a cursor past the feed's end: bad input, as --after
                raise ComplaintsError(f"--after: {err.details.get('after', err)}", code="invalid_data") from None
            for body in page.bodies:  # one JSON object a line, as the feed's envelope text
                sys.stdout.write(body + "\n")
            sys.stdout.flush()
            printed += len(page.bodies)
            cursor = page.next_cursor
            if args.limit is not None and printed >= args.limit:
                break
            if not page.bodies:
                if not args.follow:
                    break
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        pass
    print(f"next cursor: {cursor}", file=sys.stderr)
    return 0
