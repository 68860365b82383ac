"""Shared by the HTTP e2e tests (no tests here): tokens made with the real CLI, a client per role, a served app."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.serve_process import start_serve

COMPLAINTS = str(Path(sys.executable).with_name("complaints"))
ROLES = ("automation", "analyst", "auditor", "admin")

RECEIVE = {"incident_date": (date.today() - timedelta(days=7)).isoformat(), "formal": True}
LETTER = {
    "decision": "upheld",
    "reasons": "the repair was late",
    "remedy": "apology and £50",
    "outstanding_actions": "none",
    "escalation_route": "ask for stage 2 within the window",
    "ombudsman_info": "Housing Ombudsman details enclosed",
}


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMPLAINTS_DB_URL": db_url, "COMPLAINTS_LOG_LEVEL": "WARNING"}
    return subprocess.run([COMPLAINTS, *args], env=env, capture_output=True, text=True, timeout=120)


def make_token(db_url: str, role: str, name: str) -> str:
    """``complaints token create``: the token is stdout's one line."""
    result = cli(db_url, "token", "create", "--role", role, "--name", name)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token and "\n" not in token
    return token


@dataclass
class Api:
    """One HTTP client per role against a served app; ``call(..., role=None)`` sends no token."""

    url: str
    tokens: dict[str, str]
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def call(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if role is not None:
            headers.setdefault("Authorization", f"Bearer {self.tokens[role]}")
        return self.client.request(method, self.url + path, headers=headers, **kwargs)

    def open_case(self, policy: str = "code_2024", role: str = "automation", **kwargs: Any) -> dict[str, Any]:
        answer = self.call("POST", "/cases", role, json={"policy": policy, "data": RECEIVE}, **kwargs)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def event(self, case_id: str, name: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        role = kwargs.pop("role", "automation")
        return self.call("POST", f"/cases/{case_id}/events", role, json={"name": name, "data": data or {}}, **kwargs)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        answer = self.call("GET", f"/cases/{case_id}/events", "auditor")
        assert answer.status_code == 200, answer.text
        return answer.json()


@contextmanager
def served(db_url: str, log_path: Path) -> Iterator[Api]:
    """Tokens for every role (the admin's from the CLI, the others through POST /tokens), then the server."""
    admin = make_token(db_url, "admin", "ops admin")
    server = start_serve(db_url, log_path, extra_env={"COMPLAINTS_LOG_LEVEL": "WARNING"})
    api = Api(server.url, {"admin": admin})
    try:
        for role in ROLES[:-1]:
            made = api.call("POST", "/tokens", "admin", json={"name": f"{role}-bot", "role": role})
            assert made.status_code == 201, made.text
            api.tokens[role] = made.json()["token"]
        yield api
    finally:
        api.client.close()
        server.stop()
