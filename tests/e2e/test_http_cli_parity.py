"""CLI parity: operators on the server drive the same cases through the same service as the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_http_helpers import RECEIVE, cli, served

pytestmark = pytest.mark.e2e


def test_the_cli_and_the_api_see_and_drive_the_same_cases(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/parity.db"
    opened = cli(url, "case", "open", "--policy", "livin", "--data", json.dumps(RECEIVE), "--actor", "desk", "--json")
    assert opened.returncode == 0, opened.stderr
    case_id = json.loads(opened.stdout)["id"]
    with served(url, tmp_path / "serve.log") as api:
        over_http = api.event(case_id, "add_issue", {"description": "noise"}, headers={"If-Match": "1"})
        assert over_http.status_code == 200
        stale = cli(url, "case", "event", case_id, "withdraw", "--set", "summary=done", "--if-version", "1")
        assert stale.returncode != 0 and "version_conflict" in stale.stderr
        shown = json.loads(cli(url, "case", "show", case_id, "--json").stdout)
        assert shown == api.call("GET", f"/cases/{case_id}", "analyst").json()
        allowed = json.loads(cli(url, "case", "allowed", case_id, "--json").stdout)
        assert allowed == api.call("GET", f"/cases/{case_id}/allowed", "analyst").json()
        history = json.loads(cli(url, "case", "history", case_id, "--json").stdout)
        assert [(e["name"], e["actor"]) for e in history] == [("receive", "desk"), ("add_issue", "automation-bot")]
        listed = json.loads(cli(url, "case", "list", "--policy", "livin", "--not-breached", "--json").stdout)
        page = api.call("GET", "/cases", "analyst", params={"policy": "livin", "breached": "false"}).json()
        assert listed["items"] == page["items"] and listed["total"] == page["total"] == 1
        assert cli(url, "case", "list", "--opened-from", "someday").returncode != 0
