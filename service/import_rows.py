"""Reading an import file (``complaints import``, ``POST /imports``): CSV with a header, or JSON Lines.

Each row is one historical event of a case in the old system. What makes the
whole file unusable (not CSV/JSONL, an unknown column, a policy that does not
exist, an instant without a UTC offset) raises ``BadImport`` naming the line
and column, before anything is written. What is wrong with one row only (no
reference, an unknown event, a date that is not one) is kept on the row as a
problem: its case is rejected and named in the rejects report, the others go on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.catalog import Catalog
from workflow.errors import ComplaintsError, UnknownPolicy
from workflow.policy import Policy
from workflow.vocabulary import EVENTS

REQUIRED = ("external_ref", "event", "occurred_at")
OPTIONAL = ("actor", "policy", "data")
COLUMNS = REQUIRED + OPTIONAL
FORMATS = ("csv", "jsonl")


class BadImport(ComplaintsError):
    """The file cannot be imported at all: nothing is written."""

    code = "invalid_import"


@dataclass
class Row:
    """One event of the file, with what is wrong with it (reason code, detail) if anything."""

    line: int
    external_ref: str
    event: str
    occurred_at: datetime | None
    data: dict[str, Any]
    actor: str
    policy: Policy | None
    problems: list[tuple[str, str]] = field(default_factory=list)


def format_of(name: str) -> str:
    """``csv`` or ``jsonl`` from a file name; anything else is not an import file."""
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise BadImport(f"{name}: not a CSV (.csv) or JSON Lines (.jsonl) file")


def read_rows(text: Iterable[str], fmt: str, catalog: Catalog, policy: str | None) -> Iterator[Row]:
    """The file's rows, in file order. ``policy`` (ID or ID@V) is used where a row names none."""
    default = _policy(catalog, policy, 0, "--policy") if policy else None
    raws = _csv(text) if fmt == "csv" else _jsonl(text)
    for line, raw in raws:
        yield _row(line, raw, catalog, default)


def _csv(text: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise BadImport("line 1: the file is empty (a CSV import needs a header)") from None
    except (csv.Error, UnicodeDecodeError) as err:
        raise BadImport(f"line 1: not CSV: {err}") from None
    for column in header:
        _check_column(1, column)
    for column in REQUIRED:
        if column not in header:
            raise BadImport(f"line 1: no column {column!r}; an import needs {', '.join(REQUIRED)}")
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise BadImport(f"line {reader.line_num}: {len(values)} fields, the header has {len(header)}")
            raw: dict[str, Any] = {}
            data: dict[str, Any] = {}
            for column, value in zip(header, values, strict=True):
                if column.startswith("data."):
                    if value != "":
                        data[column[5:]] = _cell(value)
                else:
                    raw[column] = value
            if raw.get("data"):
                try:
                    whole = json.loads(raw["data"])
                except ValueError:
                    whole = None
                raw["data"] = whole if isinstance(whole, dict) else raw["data"]
            else:
                raw["data"] = {}
            if isinstance(raw["data"], dict):
                raw["data"] = {**raw["data"], **data}
            yield reader.line_num, raw
    except (csv.Error, UnicodeDecodeError) as err:
        raise BadImport(f"line {reader.line_num}: not CSV: {err}") from None


def _cell(value: str) -> Any:
    """A ``data.<field>`` cell: true/false are booleans, a JSON list or object is one, anything else text."""
    if value in ("true", "false"):
        return value == "true"
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _jsonl(text: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        for number, line in enumerate(text, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as err:
                raise BadImport(f"line {number}: not a JSON object ({err.args[0]})") from None
            if not isinstance(raw, dict):
                raise BadImport(f"line {number}: not a JSON object")
            for column in raw:
                _check_column(number, column)
            for column in REQUIRED:
                raw.setdefault(column, "")
            data = dict(raw.get("data") or {}) if isinstance(raw.get("data") or {}, dict) else raw["data"]
            for column in [c for c in raw if c.startswith("data.")]:
                if isinstance(data, dict):
                    data[column[5:]] = raw.pop(column)
            raw["data"] = data
            yield number, raw
    except UnicodeDecodeError as err:
        raise BadImport(f"not JSON Lines text: {err}") from None


def _check_column(line: int, column: str) -> None:
    if column in COLUMNS or (column.startswith("data.") and len(column) > 5):
        return
    raise BadImport(f"line {line}, column {column!r}: unknown column; columns are {', '.join(COLUMNS)}, data.<field>")


def _policy(catalog: Catalog, ref: str, line: int, column: str) -> Policy:
    try:
        return catalog.resolve(ref)
    except UnknownPolicy as err:
        where = f"line {line}, column {column}" if line else column
        raise BadImport(f"{where}: {err.detail}") from None


def _row(line: int, raw: dict[str, Any], catalog: Catalog, default: Policy | None) -> Row:
    problems: list[tuple[str, str]] = []
    ref = raw.get("external_ref")
    ref = str(ref).strip() if ref is not None else ""
    if not ref:
        problems.append(("missing_reference", "column external_ref is empty"))
    elif len(ref) > 128:
        problems.append(("invalid_reference", "external_ref is longer than 128 characters"))
    event = str(raw.get("event") or "").strip()
    if event not in EVENTS:
        problems.append(("unknown_event", f"column event: {event!r} is not an event of the service"))
    occurred_at = _instant(line, raw.get("occurred_at"), problems)
    data = raw.get("data")
    if not isinstance(data, dict):
        problems.append(("invalid_data", "column data: not a JSON object"))
        data = {}
    named = raw.get("policy")
    policy = _policy(catalog, str(named), line, "policy") if named else default
    if policy is None:
        raise BadImport(f"line {line}, column policy: no policy named, and no --policy given")
    return Row(line, ref, event, occurred_at, data, str(raw.get("actor") or "import"), policy, problems)


def _instant(line: int, value: Any, problems: list[tuple[str, str]]) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(("invalid_occurred_at", "column occurred_at is empty"))
        return None
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        problems.append(("invalid_occurred_at", f"column occurred_at: {value!r} is not an ISO 8601 instant"))
        return None
    if instant.tzinfo is None:
        raise BadImport(f"line {line}, column occurred_at: {value!r} has no UTC offset (write e.g. +00:00 or Z)")
    return instant


def text_lines(payload: bytes) -> io.StringIO:
    """An uploaded body as lines of text (``POST /imports``); bytes that are not UTF-8 are not an import file."""
    try:
        return io.StringIO(payload.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as err:
        raise BadImport(f"not UTF-8 text: {err}") from None
