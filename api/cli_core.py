"""``complaints db``, ``complaints policy list|show`` and ``complaints scenario run``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Any

from api.bootstrap import Settings, bootstrap, catalog_for
from api.cli import print_json
from api.progress import Progress
from service.scenarios import run_scenario, scenario_files, throwaway_services
from storage.database import make_engine, upgrade
from workflow.calendar import Duration
from workflow.clock import Clock
from workflow.policy import Policy

# The `policy` group's sub-parsers, for modules registered after this one.
policy_subparsers: Any = None


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply the Alembic migrations to COMPLAINTS_DB_URL")
    up.set_defaults(handler=_db_upgrade)

    policy = subparsers.add_parser("policy", help="the policies: shipped, and COMPLAINTS_POLICY_DIR's")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    global policy_subparsers
    policy_subparsers = policy_sub  # later modules in COMMAND_MODULES add `policy lint` etc. here
    listing = policy_sub.add_parser("list", help="every policy and version")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_policy_list)
    show = policy_sub.add_parser("show", help="one policy's rules (ID or ID@VERSION)")
    show.add_argument("policy")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_policy_show)

    scenario = subparsers.add_parser("scenario", help="scenario files (SCENARIOS.md)")
    scenario_sub = scenario.add_subparsers(dest="scenario_command", required=True)
    run = scenario_sub.add_parser("run", help="run scenario files or folders of *.toml")
    run.add_argument("paths", nargs="+")
    run.add_argument("--json", action="store_true", help="one JSON object per scenario")
    run.add_argument("--timeline", action="store_true", help="print each case's history after its line")
    run.set_defaults(handler=_scenario_run)


def _db_upgrade(_args: argparse.Namespace) -> int:
    settings = Settings()
    with Progress("db upgrade", unit="migrations") as progress:
        upgrade(make_engine(settings.db_url), on_step=progress.step)
    print(f"database at {settings.db_url} is up to date")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "calendar"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def policy_dict(policy: Policy) -> dict[str, Any]:
    out = {k: _plain(getattr(policy, k)) for k in policy.__dataclass_fields__ if k not in ("calendar", "path")}
    # asdict() flattens Durations into dicts; render them in the policy's words instead
    for stage in ("stage_1", "stage_2"):
        out[stage] = {k: _plain(v) for k, v in vars(getattr(policy, stage)).items()}
    for part in ("informal", "time_limit", "escalation", "ombudsman"):
        value = getattr(policy, part)
        out[part] = {k: _plain(v) for k, v in vars(value).items()} if value is not None else None
    return out


def _policy_list(args: argparse.Namespace) -> int:
    catalog = catalog_for(Settings())
    rows = [
        {"id": p.id, "version": p.version, "name": p.name, "effective_from": _plain(p.effective_from)}
        for p in catalog.all()
    ]
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        newest = row["version"] == catalog.versions(row["id"])[-1]
        mark = " (newest)" if newest else ""
        print(f"{row['id']}@{row['version']}{mark}  {row['name']}  from {row['effective_from'] or 'unknown'}")
    return 0


def _policy_show(args: argparse.Namespace) -> int:
    policy = catalog_for(Settings()).resolve(args.policy)
    data = policy_dict(policy)
    if args.json:
        print_json(data)
        return 0
    print(f"{policy.ref}: {policy.name}")
    print(f"  source: {policy.source}")
    for key, value in data.items():
        if key in ("id", "version", "name", "source"):
            continue
        if isinstance(value, dict):
            print(f"  {key}:")
            for sub, sub_value in value.items():
                print(f"    {sub}: {_words(sub_value)}")
        else:
            print(f"  {key}: {_words(value)}")
    return 0


def _words(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _scenario_run(args: argparse.Namespace) -> int:
    catalog = catalog_for(Settings())

    def build(url: str, clock: Clock) -> Any:
        return bootstrap(Settings(db_url=url), clock=clock, catalog=catalog).service

    factory = throwaway_services(build)
    passed = failed = 0
    for path in scenario_files(args.paths):
        outcome = run_scenario(path, factory)
        passed, failed = passed + outcome.passed, failed + (not outcome.passed)
        if args.json:
            print(json.dumps(outcome.to_dict()))
        else:
            print(outcome.line())
            if args.timeline:
                for event in outcome.timeline:
                    print(
                        f"    {event['seq']:>3} {event['occurred_at']}  {event['name']:<20} "
                        f"{event['state_before']} -> {event['state_after']}  {json.dumps(event['data'])}"
                    )
    summary = f"{passed} passed, {failed} failed"
    print(summary if not args.json else json.dumps({"passed": passed, "failed": failed}), file=sys.stdout)
    return 0 if failed == 0 else 1
