"""``complaints verify``, ``complaints replay`` and ``complaints history``: the auditor's commands.

``verify`` exits 0 only when every hash chain is intact and every replay
equals the store; otherwise it prints one line per problem (case, sequence
number, what differs), a summary line, and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.bootstrap import App, bootstrap
from api.cli import print_json
from api.progress import Progress
from service.audit import AuditService, InvalidInstant, default_jobs, parse_instant
from service.audit.checkpoint import Checkpoint
from service.audit.render import replay_text, timeline_html, timeline_text, what_if_text

EXIT_PROBLEMS = 1


def register(subparsers: Any) -> None:
    verify = subparsers.add_parser("verify", help="check hash chains and that replaying each case equals the store")
    verify.add_argument("--case", dest="case_id", help="one case (default: every case)")
    verify.add_argument("--jobs", type=int, default=default_jobs(), help="worker processes for a whole store")
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="hold each case to what this file recorded, replay only what changed, then update it",
    )
    verify.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    verify.set_defaults(handler=_verify)

    replay = subparsers.add_parser("replay", help="a case as it stood at a moment, or under another policy")
    replay.add_argument("case_id")
    replay.add_argument("--as-of", help="fold the events that had occurred by this instant (what happened)")
    replay.add_argument("--known-at", help="fold the events recorded by this instant (what the landlord knew)")
    replay.add_argument("--policy", help="what-if: replay the client events under ID[@VERSION] instead")
    replay.add_argument("--until", help="what-if: run the other policy's clocks up to this instant")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(handler=_replay)

    history = subparsers.add_parser("history", help="a case's timeline for humans (text, JSON or HTML)")
    history.add_argument("case_id")
    history.add_argument("--format", choices=("text", "json", "html"), default="text")
    history.add_argument("-o", "--output", help="write to this file instead of standard output")
    history.set_defaults(handler=_history)


@contextmanager
def _audit() -> Iterator[AuditService]:
    app: App = bootstrap()
    try:
        yield AuditService(app.engine, app.catalog)
    finally:
        app.engine.dispose()


def _verify(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise InvalidInstant("--jobs must be 1 or more")
    checkpoint = Checkpoint.load(Path(args.checkpoint)) if args.checkpoint else None
    with _audit() as audit, Progress("verify", unit="cases", quiet=args.json or args.case_id is not None) as bar:
        report = audit.verify(
            args.case_id,
            jobs=args.jobs,
            checkpoint=checkpoint,
            on_page=lambda part: bar.advance(part.cases, events=part.events),
            on_total=bar.set_total,
        )
    if checkpoint is not None:  # clean cases recorded anew; a case with problems keeps its old entry (the anchor)
        checkpoint.cases.update(report.seen)
        checkpoint.save(Path(args.checkpoint))
    if args.json:
        print_json(report.to_dict())
    else:
        for problem in report.problems:
            print(problem.line())
        print(report.summary_line())
    return 0 if report.ok else EXIT_PROBLEMS


def _replay(args: argparse.Namespace) -> int:
    as_of, known_at = parse_instant(args.as_of, "--as-of"), parse_instant(args.known_at, "--known-at")
    until = parse_instant(args.until, "--until")
    if args.policy:
        if as_of or known_at:
            raise InvalidInstant("--policy compares the whole history; it takes --until, not --as-of/--known-at")
        with _audit() as audit:
            view = audit.what_if(args.case_id, args.policy, until)
        print_json(view) if args.json else sys.stdout.write(what_if_text(view))
        return 0
    if until:
        raise InvalidInstant("--until goes with --policy")
    with _audit() as audit:
        view = audit.replay(args.case_id, as_of, known_at)
    print_json(view) if args.json else sys.stdout.write(replay_text(view))
    return 0


def _history(args: argparse.Namespace) -> int:
    with _audit() as audit:
        view = audit.timeline(args.case_id)
    if args.format == "json":
        text = json.dumps(view, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "html":
        text = timeline_html(view)
    else:
        text = timeline_text(view)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0
