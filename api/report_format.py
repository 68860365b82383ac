"""Reports as tables, rendered as text, Markdown or CSV (JSON is the report dict itself).

The CLI and the HTTP routes share this, so ``--format md`` and
``?format=md`` print the same tables. CSV holds several tables in one file:
each table starts with its header row, and every row's first cell names the
table, so a spreadsheet filter on the first column picks one table out.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

FORMATS = ("text", "json", "csv", "md")


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def tsm_tables(report: dict[str, Any]) -> list[Table]:
    period = f"{report['period']['from']} to {report['period']['to']}"
    ch01 = Table(
        f"CH01 complaints received per 1,000 homes, {report['year']} ({period})",
        ("measure", "stage", "received", "homes", "per 1,000 homes"),
        [
            (f"CH01 stage {s}", s, v["received"], report["homes"], v["per_1000_homes"])
            for s, v in ((1, report["CH01"]["stage_1"]), (2, report["CH01"]["stage_2"]))
        ],
    )
    ch02 = Table(
        "CH02 complaints responded to within the Code's timescales",
        ("measure", "stage", "within timescale", "responded", "percent"),
        [
            (f"CH02 stage {s}", s, v["within_timescale"], v["responded"], v["percent"])
            for s, v in ((1, report["CH02"]["stage_1"]), (2, report["CH02"]["stage_2"]))
        ],
    )
    return [ch01, ch02]


def kpi_tables(report: dict[str, Any]) -> list[Table]:
    scope = f"{report['month']}" + (f", policy {report['policy']}" if report.get("policy") else "")
    tables = [
        Table(f"Complaints received, {scope}", ("stage", "received"), list(report["received"].items())),
        Table(
            "Received by stage and channel",
            ("stage", "channel", "received"),
            [(s, ch, n) for s, chans in report["received_by_channel"].items() for ch, n in chans.items()],
        ),
        Table(
            "Responses within the Code's timescales",
            ("stage", "responded", "within timescale", "percent"),
            [(s, v["responded"], v["within_timescale"], v["percent"]) for s, v in report["responses"].items()],
        ),
        Table(
            "Working days from the stage's start",
            ("to", "stage", "count", "median", "90th percentile"),
            [
                (what, s, v["count"], v["median"], v["p90"])
                for what, key in (
                    ("acknowledge", "working_days_to_acknowledge"),
                    ("respond", "working_days_to_respond"),
                )
                for s, v in report[key].items()
            ],
        ),
        Table("Breaches by deadline kind", ("kind", "breaches"), list(report["breaches"].items())),
        Table("Extensions", ("stage", "extensions"), list(report["extensions"].items())),
        Table(
            "Escalation rate",
            ("escalation requests", "stage 1 responses", "percent"),
            [tuple(report["escalation"].values())],
        ),
    ]
    ages = report["open_cases"]
    buckets = next(iter(ages["age_in_working_days"].values()), {})
    tables.append(
        Table(
            f"Open cases by state and age in working days, as of {ages['as_of']} (total {ages['total']})",
            ("state", *buckets, "total"),
            [(state, *b.values(), sum(b.values())) for state, b in ages["age_in_working_days"].items()],
        )
    )
    tables.append(Table("Ombudsman referrals", ("referrals",), [(report["ombudsman_referrals"],)]))
    return tables


def lint_tables(result: dict[str, Any]) -> list[Table]:
    verdict = "complies" if result["complies"] else f"does not comply on {result['does_not_comply']} provision(s)"
    return [
        Table(
            f"{result['policy']} against {result['code']}: {verdict}",
            ("para", "provision", "verdict", "policy", "code", "why"),
            [
                (f["para"], f["provision"], f["verdict"], f["policy_value"], f["code_value"], f["why"])
                for f in result["findings"]
            ],
        )
    ]


def tables_for(report: dict[str, Any]) -> list[Table]:
    if report.get("report") == "tsm":
        return tsm_tables(report)
    if report.get("report") == "kpi":
        return kpi_tables(report)
    return lint_tables(report)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, default=str) + "\n"
    tables = tables_for(report)
    if fmt == "csv":
        return _csv(tables)
    if fmt == "md":
        return "\n".join(_markdown(t) for t in tables)
    return "\n".join(_text(t) for t in tables)


def _text(table: Table) -> str:
    cells = [list(table.columns)] + [[_cell(v) for v in row] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = [table.title, "  ".join("-" * w for w in widths)]
    for i, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not table.rows:
        lines.append("(none)")
    return "\n".join(lines) + "\n"


def _markdown(table: Table) -> str:
    def line(values: Any) -> str:
        return "| " + " | ".join(_cell(v).replace("|", "\\|") for v in values) + " |"

    out = [f"### {table.title}", "", line(table.columns), "|" + "---|" * len(table.columns)]
    out.extend(line(row) for row in table.rows)
    if not table.rows:
        out.append(line(["(none)"] + [""] * (len(table.columns) - 1)))
    return "\n".join(out) + "\n"


def _csv(tables: list[Table]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for table in tables:
        writer.writerow(["table", *table.columns])
        for row in table.rows:
            writer.writerow([table.title, *("" if v is None else v for v in row)])
    return buffer.getvalue()
