"""``complaints diagram``: a policy's diagram, a case's path, the process map, and the committed diagrams/.

    complaints diagram --policy ID[@V] [--format svg|png|dot|mmd] [-o FILE]
    complaints diagram --case CASE_ID  [--format ...] [-o FILE]
    complaints diagram --flow --policy ID[@V] [--since DATE] [--until DATE] [--format ...] [-o FILE]
    complaints diagram --regenerate diagrams/

Text formats go to standard output without ``-o``; SVG and PNG need ``-o``
unless standard output is not a terminal. Without Graphviz, SVG and PNG say
how to install it and DOT and Mermaid still work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from api.bootstrap import App, Settings, bootstrap, catalog_for
from api.diagram_files import regenerate
from api.render import FORMATS, render
from service.flow import parse_day, process_flow
from workflow.diagrams import Diagram, policy_diagram
from workflow.diagrams.dot import to_dot
from workflow.diagrams.mermaid import to_mermaid
from workflow.diagrams.overlays import case_diagram
from workflow.errors import ComplaintsError


class DiagramUsage(ComplaintsError):
    code = "invalid_arguments"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagram",
        help="state diagrams: a policy, a case's path, the process map (--flow), or regenerate diagrams/",
        description="Diagrams drawn from the machine that runs the cases.",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--case", metavar="CASE_ID", help="a case's path over its policy's diagram")
    what.add_argument("--flow", action="store_true", help="process map of stored histories (needs --policy)")
    what.add_argument("--regenerate", metavar="DIR", help="rewrite the committed diagrams (e.g. diagrams/)")
    parser.add_argument("--policy", help="ID or ID@VERSION")
    parser.add_argument("--format", choices=FORMATS, default="svg")
    parser.add_argument("-o", "--output", help="write to FILE (default: standard output)")
    parser.add_argument("--since", help="process map: cases received on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", help="process map: cases received on or before DATE (YYYY-MM-DD)")
    parser.set_defaults(handler=_diagram)


def _diagram(args: argparse.Namespace) -> int:
    if args.policy and (args.case or args.regenerate):
        raise DiagramUsage("--policy goes alone or with --flow, not with --case or --regenerate")
    if args.regenerate:
        for path in regenerate(Path(args.regenerate), catalog_for(Settings())):
            print(path)
        return 0
    if (args.since or args.until) and not args.flow:
        raise DiagramUsage("--since and --until belong to --flow")
    if args.case:
        app = bootstrap()
        diagram = _case(app, args.case)
    elif args.flow:
        if not args.policy:
            raise DiagramUsage("--flow needs --policy ID[@VERSION]")
        app = bootstrap()
        since, until = parse_day(args.since, "since"), parse_day(args.until, "until")
        diagram = process_flow(app.service.uow, app.catalog, args.policy, since, until).diagram()
    else:
        if not args.policy:
            raise DiagramUsage("say what to draw: --policy ID[@VERSION], --case ID, --flow --policy ID or --regenerate")
        diagram = policy_diagram(catalog_for(Settings()).resolve(args.policy))
    _write(diagram, args.format, args.output)
    return 0


def _case(app: App, case_id: str) -> Diagram:
    case = app.service.load(case_id)
    records = app.service.history(case_id)
    return case_diagram(app.catalog.get(case.policy_id, case.policy_version), case, records)


def output_bytes(diagram: Diagram, fmt: str) -> bytes:
    if fmt == "mmd":
        return to_mermaid(diagram).encode("utf-8")
    if fmt == "dot":
        return to_dot(diagram).encode("utf-8")
    return render(to_dot(diagram), fmt)


def _write(diagram: Diagram, fmt: str, output: str | None) -> None:
    data = output_bytes(diagram, fmt)
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as err:
            raise DiagramUsage(f"cannot write {output}: {err.strerror}") from None
        print(f"wrote {output} ({fmt}, {len(data)} bytes)", file=sys.stderr)
        return
    if fmt == "png" and sys.stdout.isatty():
        raise DiagramUsage("PNG is binary: give -o FILE or redirect standard output")
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
