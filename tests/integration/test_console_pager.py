"""The Cases and Work pages page through long lists with the same pager: a next link, then a previous one.

Both pages draw it from one macro (macros.html ``pager``); a team lead with 26 open complaints must reach
the 26th from the first page, and get back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token
from workflow.clock import ManualClock

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CASES = 26  # one more than the smallest page


@pytest.fixture
def console(db_url: str) -> Iterator[TestClient]:
    app = bootstrap(Settings(db_url=db_url), clock=ManualClock(NOW))
    token = create_token(app.engine, "lead", "admin", NOW)
    for day in range(CASES):
        at = datetime(2026, 11, 2 + day % 15, 9, day, tzinfo=UTC)
        app.service.open_case("code_2024", {"incident_date": "2026-11-01"}, at)
    with TestClient(create_app(app)) as http:
        http.cookies.set("cw_session", token, path="/ui")
        yield http
    app.engine.dispose()


def _pager(html: str) -> dict[str, str]:
    nav = re.search(r'<nav class="pager" aria-label="Pages">(.*?)</nav>', html, re.S)
    assert nav, "no pager"
    return {rel: href.replace("&amp;", "&") for href, rel in re.findall(r'<a href="([^"]+)" rel="(\w+)">', nav[1])}


@pytest.mark.parametrize("page", ["/ui/cases", "/ui/work"])
def test_a_long_list_pages_forward_and_back(console: TestClient, page: str) -> None:
    first = console.get(page, params={"limit": "25"})
    assert first.status_code == 200
    links = _pager(first.text)
    assert set(links) == {"next"}
    second = console.get(links["next"])
    assert second.status_code == 200
    back = _pager(second.text)
    assert set(back) == {"prev"}
    assert console.get(back["prev"]).text == first.text
