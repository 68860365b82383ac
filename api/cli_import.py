"""``complaints import FILE.csv|FILE.jsonl``: open cases of a legacy system, with their history (docs/moving-in.md)."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Any

from api.bootstrap import bootstrap
from api.cli import print_json
from api.progress import Progress
from service.import_rows import BadImport, format_of, read_rows
from service.importer import Importer, ImportResult
from service.logs import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("import", help="import cases and their history from a CSV or JSON Lines file")
    parser.add_argument("file", help="FILE.csv (with a header) or FILE.jsonl: one historical event a row")
    parser.add_argument("--policy", help="ID or ID@VERSION for rows with no policy column")
    parser.add_argument("--dry-run", action="store_true", help="write nothing; say what would happen")
    parser.add_argument("--report", metavar="REJECTS.csv", help="write the rejected rows and their reasons here")
    parser.add_argument("--json", action="store_true", help="the outcome as JSON (no progress output)")
    parser.set_defaults(handler=_import)


def _import(args: argparse.Namespace) -> int:
    fmt = format_of(args.file)
    path = Path(args.file)
    if not path.is_file():
        raise BadImport(f"{args.file}: no such file")
    if "COMPLAINTS_LOG_LEVEL" not in os.environ:
        configure_logging("WARNING")  # one log line an event would drown the progress and the answer
    app = bootstrap()
    with path.open(encoding="utf-8-sig", newline="") as text:
        rows = list(read_rows(text, fmt, app.catalog, args.policy))  # the whole file checked before any write
    with Progress("import", total=len(rows), unit="rows", quiet=args.json, plain=True) as progress:
        result = Importer(app.service).run(rows, args.dry_run, lambda n, c: progress.advance(n, cases=c))
    if args.report:
        write_rejects(Path(args.report), result)
    if args.json:
        print_json(result.to_dict())
    else:
        _print(result)
    return 0 if not result.rejects else 1


def write_rejects(path: Path, result: ImportResult) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["external_ref", "line", "event", "reasons", "detail"])
        for r in result.rejects:
            writer.writerow([r.external_ref, r.line, r.event, " ".join(r.reasons), r.detail])


def _print(result: ImportResult) -> None:
    verb = "would import" if result.dry_run else "imported"
    print(
        f"{verb} {result.imported} cases ({result.events} events, {result.breaches} breaches found) "
        f"from {result.rows} rows; {result.unchanged} already imported, unchanged; {result.rejected} rejected"
    )
    for state, count in sorted(result.states.items()):
        print(f"  {state}: {count}")
    for r in result.rejects:
        print(f"  rejected {r.external_ref or '(no reference)'} line {r.line} {r.event}: {' '.join(r.reasons)}"
              f"  {r.detail}", file=sys.stderr)
