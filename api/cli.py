"""The ``complaints`` command line: one argparse tree, errors mapped in one place.

Each group of commands lives in its own module with a ``register(subparsers)``
function; every command calls the service layer built by ``api.bootstrap``,
never the HTTP API. Bad input ends with a one-line message naming its reason
code and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from service.logs import configure_logging
from storage.database import DatabaseUnavailable
from workflow.errors import ComplaintsError, EventRefused
from workflow.policy import PolicyError

# Modules that add sub-commands; each defines register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "api.cli_core",
    "api.cli_case",
    "api.cli_token",
    "api.cli_report",
    "api.cli_diagram",
    "api.cli_serve",
    "api.cli_audit",
    "api.cli_feed",
    "api.cli_webhook",
    "api.cli_work",
    "api.cli_import",
    "api.cli_export",
)

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complaints", description="Complaint-handling workflow service for social-housing landlords."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("COMPLAINTS_LOG_LEVEL", "INFO"))  # the service's JSON lines, on stderr
    try:
        result = args.handler(args)
    except EventRefused as refusal:
        print(f"refused: {', '.join(refusal.reasons)}", file=sys.stderr)
        for key, value in refusal.details.items():
            print(f"  {key}: {value}", file=sys.stderr)
        return EXIT_REFUSED
    except ComplaintsError as err:
        print(f"error: {err.code}: {err.detail}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PolicyError as err:
        print(f"error: invalid_policy: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DatabaseUnavailable as err:
        print(f"error: database_unavailable: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    return int(result or 0)


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


def _reader_went_away() -> int:
    """``complaints ... | head``: the reader stopped reading. Stop quietly, as Unix tools do, never a traceback.

    Standard output is pointed at /dev/null so the interpreter's final flush cannot raise again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
