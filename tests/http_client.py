"""The API in-process over a bootstrapped app, with one bearer token per role: what HTTP integration tests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.bootstrap import App
from api.http.app import create_app
from api.http.deps import create_token

ROLES = ("analyst", "automation", "auditor", "admin")
Headers = dict[str, dict[str, str]]


@contextmanager
def serving(app: App) -> Iterator[tuple[TestClient, Headers]]:
    """A test client on ``app`` and each role's Authorization header; the engine is disposed after."""
    now = app.clock.now()
    headers = {role: {"Authorization": f"Bearer {create_token(app.engine, role, role, now)}"} for role in ROLES}
    try:
        with TestClient(create_app(app)) as client:
            yield client, headers
    finally:
        app.engine.dispose()
