"""``complaints report tsm|kpi`` and ``complaints policy lint``.

``policy lint`` exits 1 when any provision does not comply, so a landlord can
gate a policy change in CI; it needs no database. Reports read the database at
``COMPLAINTS_DB_URL``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import api.cli_core
from api.bootstrap import Settings, bootstrap, catalog_for
from api.progress import Progress
from api.report_format import FORMATS, render
from service.reports import CODE_POLICY, InvalidReportRequest, ReportService
from workflow.lint import lint

EXIT_DOES_NOT_COMPLY = 1


def _format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="text", help="text tables (default), json, csv or md")


def register(subparsers: Any) -> None:
    report = subparsers.add_parser("report", help="TSM complaint measures and monthly KPIs")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    tsm = report_sub.add_parser("tsm", help="TSM CH01/CH02 for a reporting year (1 April to 31 March)")
    tsm.add_argument("--year", type=int, required=True, help="the year the reporting year starts (2025: 2025/26)")
    tsm.add_argument("--homes", type=int, default=None, help="relevant homes owned (default: COMPLAINTS_HOMES)")
    _format(tsm)
    tsm.set_defaults(handler=_tsm)
    kpi = report_sub.add_parser("kpi", help="monthly complaint KPIs")
    kpi.add_argument("--month", required=True, help="YYYY-MM")
    kpi.add_argument("--policy", default=None, help="only cases under this policy (ID or ID@VERSION)")
    _format(kpi)
    kpi.set_defaults(handler=_kpi)

    if api.cli_core.policy_subparsers is None:
        raise RuntimeError("api.cli_report must come after api.cli_core in COMMAND_MODULES")
    check = api.cli_core.policy_subparsers.add_parser(
        "lint", help="check policies against the 2024 Code, provision by provision (exit 1: does not comply)"
    )
    check.add_argument("policies", nargs="+", metavar="ID", help="ID or ID@VERSION (newest by default), or 'all'")
    _format(check)
    check.set_defaults(handler=_lint)


def _service(progress: Progress | None = None) -> ReportService:
    app = bootstrap(Settings())
    return ReportService(app.engine, app.catalog, progress.step if progress is not None else None)


def _homes(value: int | None) -> int:
    if value is not None:
        return value
    text = os.environ.get("COMPLAINTS_HOMES", "")
    if not text.strip().isdigit():
        raise InvalidReportRequest("give --homes N or set COMPLAINTS_HOMES to the number of relevant homes")
    return int(text)


def _tsm(args: argparse.Namespace) -> int:
    homes = _homes(args.homes)
    with Progress("report tsm", unit="queries", quiet=args.format == "json") as progress:
        report = _service(progress).tsm(args.year, homes)
    sys.stdout.write(render(report, args.format))
    return 0


def _kpi(args: argparse.Namespace) -> int:
    with Progress("report kpi", unit="queries", quiet=args.format == "json") as progress:
        report = _service(progress).kpi(args.month, args.policy)
    sys.stdout.write(render(report, args.format))
    return 0


def _lint(args: argparse.Namespace) -> int:
    catalog = catalog_for(Settings())
    code = catalog.get(CODE_POLICY)
    chosen = catalog.all() if args.policies == ["all"] else [catalog.resolve(ref) for ref in args.policies]
    results = [lint(policy, code) for policy in chosen]
    if args.format == "json":
        payload: Any = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        sys.stdout.write(render(payload, "json"))
    else:
        for i, result in enumerate(results):
            text = render(result.to_dict(), args.format)
            if args.format == "csv" and i:
                text = text.split("\n", 1)[1]  # one header row for the whole file
            sys.stdout.write(text if args.format == "csv" or i == len(results) - 1 else text + "\n")
    return 0 if all(r.complies for r in results) else EXIT_DOES_NOT_COMPLY
