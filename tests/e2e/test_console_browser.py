"""The web console in a real browser: Debian's Chromium, headless, driven by Playwright, against `complaints serve`.

One server and one browser for the module. A person's tour (sign in, work
list, a case's timeline and diagram, an as-of replay, a report and its CSV,
sign out); roles (a wrong role sees 403 pages, no session goes to sign-in);
axe-core on every page (no serious or critical violation); event data with
HTML in it shows as text and runs nothing; screenshots of each page at
1280 px and 320 px under tmp/artifacts/console (or $COMPLAINTS_ARTIFACTS).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

# a plain import, never importorskip: playwright is a dev dependency, so these tests run (or fail) in every `make test`
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.serve_process import ROOT
from tests.e2e.test_http_helpers import Api, served

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
AXE = (Path(__file__).parent / "axe" / "axe.min.js").read_text(encoding="utf-8")
ARTIFACTS = Path(os.environ.get("COMPLAINTS_ARTIFACTS", ROOT / "tmp" / "artifacts")) / "console"
SCRIPT = "<script>window.__xss = 'script'</script>"
STACKED = "() => [...document.querySelectorAll('table.stacked tbody')].map(b => getComputedStyle(b).display)"
IMG = "<img src=x onerror=\"window.__xss = 'img'\">"


LAUNCH: dict[str, Any] = {
    "executable_path": CHROMIUM,
    "headless": True,
    "args": [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ],
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded browser), as root in a closed network, for this module only.

    Playwright's sync API keeps an event loop running on the main thread (in a greenlet) while it is
    open; held for the whole session (as pytest-playwright's session fixtures do) it made every later
    `asyncio.run` fail and broke pytest's assertion rewriting of modules imported later.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/system-packages does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**LAUNCH)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Site:
    api: Api
    case_id: str  # acknowledged, with HTML in its data
    plain_id: str  # just received
    between: datetime  # after the receive, before the acknowledge


def _at(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("console")
    with served(f"sqlite:///{folder}/console.db", folder / "serve.log") as api:
        now = datetime.now(UTC).replace(microsecond=0)
        received, acknowledged = now - timedelta(days=3), now - timedelta(days=1)
        opened = api.call(
            "POST",
            "/cases",
            "automation",
            json={"policy": "b3living", "data": {"incident_date": _at(received)[:10], "formal": True},
                  "occurred_at": _at(received)},
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["id"]
        ack = {"handler": IMG, "handler_role": "manager", "complaint_definition": SCRIPT, "outcomes_sought": IMG}
        answer = api.call(
            "POST",
            f"/cases/{case_id}/events",
            "automation",
            json={"name": "acknowledge", "data": ack, "occurred_at": _at(acknowledged)},
        )
        assert answer.status_code == 200, answer.text
        plain = api.open_case("code_2024")
        late = now - timedelta(days=40)  # its acknowledgement is overdue: the work list's first row
        overdue = api.call(
            "POST",
            "/cases",
            "automation",
            json={"policy": "code_2024", "data": {"incident_date": _at(late)[:10]}, "occurred_at": _at(late)},
        )
        assert overdue.status_code == 201, overdue.text
        yield Site(api, case_id, plain["id"], now - timedelta(days=2))


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield made
    made.close()


def sign_in(context: BrowserContext, site: Site, role: str) -> Page:
    context.clear_cookies()
    page = context.new_page()
    page.goto(f"{site.api.url}/ui/signin")
    page.get_by_label("Token").fill(site.api.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def test_a_page_without_a_session_goes_to_sign_in(context: BrowserContext, site: Site) -> None:
    context.clear_cookies()
    page = context.new_page()
    page.goto(f"{site.api.url}/ui/cases/{site.case_id}")
    assert "/ui/signin" in page.url
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Token").fill("cw_not_a_token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Unknown or revoked token.")
    page.close()


def test_the_tour_sign_in_work_case_timeline_diagram_replay_report_csv_sign_out(
    context: BrowserContext, site: Site
) -> None:
    page = sign_in(context, site, "admin")
    assert page.url.endswith("/ui/work")
    expect(page.get_by_role("heading", name="Work", exact=True)).to_be_visible()
    cookie = next(c for c in context.cookies() if c["name"] == "cw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"

    page.get_by_role("link", name="Cases", exact=True).click()
    page.get_by_role("link", name=site.case_id).click()
    expect(page.get_by_role("heading", name=f"Case {site.case_id}")).to_be_visible()
    timeline = page.locator("table.timeline")
    expect(timeline).to_contain_text("receive")
    expect(timeline).to_contain_text("acknowledge")
    expect(page.get_by_text("verified: hash chain intact")).to_be_visible()
    diagram = page.get_by_role("img", name="state diagram")
    expect(diagram).to_be_visible()
    # the SVG loads after the page: wait (bounded by Playwright's timeout) until it is drawn
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 100", arg=diagram.element_handle())

    page.get_by_label("As of").fill(site.between.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    page.get_by_role("button", name="Replay").click()
    replay = page.locator("section.replay")
    expect(replay).to_contain_text("Events folded")
    assert "1 (1)" in replay.inner_text() and "Left out" in replay.inner_text()

    page.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    expect(page.locator("figure.chart svg").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the KPI tables (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("table,stage,received\n")

    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/ui/signin")
    assert not [c for c in context.cookies() if c["name"] == "cw_session"]
    page.goto(f"{site.api.url}/ui/work")
    assert "/ui/signin" in page.url
    page.close()


def test_a_wrong_role_sees_403_pages_not_data(context: BrowserContext, site: Site) -> None:
    page = sign_in(context, site, "auditor")
    for path in ("/ui/reports", "/ui/policies", "/ui/policies/b3living/2"):
        answer = page.goto(site.api.url + path)
        assert answer is not None and answer.status == 403, path
        expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
    page = sign_in(context, site, "analyst")
    page.goto(f"{site.api.url}/ui/cases/{site.case_id}")
    expect(page.locator("table.timeline")).to_have_count(0)
    expect(page.get_by_text("for auditors")).to_be_visible()
    page = sign_in(context, site, "automation")
    answer = page.goto(f"{site.api.url}/ui/cases")
    assert answer is not None and answer.status == 403
    expect(page.get_by_text(site.plain_id)).to_have_count(0)
    page.close()


def test_unknown_case_or_policy_is_a_404_page_and_a_bad_filter_names_its_field(
    context: BrowserContext, site: Site
) -> None:
    page = sign_in(context, site, "admin")
    for path in ("/ui/cases/no-such-case", "/ui/policies/nope/1", "/ui/nothing-here"):
        answer = page.goto(site.api.url + path)
        assert answer is not None and answer.status == 404, path
        expect(page.get_by_role("link", name="Back to the console")).to_be_visible()
    answer = page.goto(f"{site.api.url}/ui/cases?opened_from=yesterday&state=lost")
    assert answer is not None and answer.status == 422
    expect(page.locator("#opened_from-error")).to_contain_text("'yesterday' is not a date")
    expect(page.locator("#state-error")).to_contain_text("'lost' is not one of")
    expect(page.get_by_label("Opened from")).to_have_attribute("aria-invalid", "true")
    page.close()


def _work_rows(page: Page) -> list[list[str]]:
    return page.locator("table.work tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )


def _api_rows(site: Site, query: str = "") -> list[list[str]]:
    """The rows ``GET /work`` answers, as the Work page should print them (overdue tagged, due with its weekday)."""
    answer = site.api.call("GET", f"/work?{query}", "analyst")
    assert answer.status_code == 200, answer.text
    rows = []
    for w in answer.json()["items"]:
        left = str(w["working_days_left"])
        left += " overdue" if w["breached"] else " due today" if w["working_days_left"] == 0 else ""
        due = date.fromisoformat(w["due"]).strftime("%a %d %b %Y")
        where = f"{w['policy_id']}@{w['policy_version']}"
        rows.append([left, due, w["case_id"], w["kind"], where, w["state"], w["handler"] or "-"])
    return rows


def test_the_work_page_shows_the_work_list_rows_and_numbers_and_names_a_bad_filter(
    context: BrowserContext, site: Site
) -> None:
    page = sign_in(context, site, "analyst")
    assert page.url.endswith("/ui/work")
    expected = _api_rows(site)
    assert len(expected) >= 3 and expected[0][0].endswith(" overdue")  # overdue first
    assert _work_rows(page) == expected
    expect(page.get_by_role("heading", name=f"{len(expected)} obligations owed, 1 to {len(expected)}")).to_be_visible()

    page.get_by_label("Policy").select_option("b3living")
    page.get_by_label("Kind").select_option("stage_1_response")
    page.get_by_role("button", name="Apply").click()
    filtered = _api_rows(site, "policy=b3living&kind=stage_1_response")
    assert len(filtered) == 1 and _work_rows(page) == filtered
    page.get_by_role("link", name=site.case_id).click()
    expect(page.get_by_role("heading", name=f"Case {site.case_id}")).to_be_visible()

    answer = page.goto(f"{site.api.url}/ui/work?kind=escalation_window&due_before=tomorrow&state=lost&policy=b3living")
    assert answer is not None and answer.status == 422
    expect(page.get_by_role("alert")).to_contain_text("Fix the filters below")
    expect(page.locator("#kind-error")).to_contain_text("the customer's window, not an obligation")
    expect(page.locator("#due_before-error")).to_contain_text("'tomorrow' is not a date (YYYY-MM-DD)")
    expect(page.locator("#state-error")).to_contain_text("unknown state 'lost'")
    expect(page.get_by_label("Due before")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Policy")).to_have_value("b3living")  # the good field is kept
    expect(page.locator("table.work")).to_have_count(0)  # nothing is queried
    page.close()


def _pages(site: Site) -> dict[str, str]:
    return {
        "work": "/ui/work",
        "work-bad-filter": "/ui/work?kind=escalation_window&due_before=tomorrow",
        "cases": "/ui/cases",
        "cases-bad-filter": "/ui/cases?opened_from=yesterday",
        "case": f"/ui/cases/{site.case_id}?as_of={site.between.strftime('%Y-%m-%dT%H:%M')}",
        "policies": "/ui/policies",
        "policy": "/ui/policies/b3living/2",
        "reports": "/ui/reports",
        "not-found": "/ui/cases/no-such-case",
    }


def _axe(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE)
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
    )


def test_every_page_passes_axe_shows_html_as_text_and_is_screenshotted(browser: Browser, site: Site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {}
    dialogs: list[str] = []
    for width in (1280, 320):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = sign_in(context, site, "admin")
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        signin = context.new_page()
        signin.context.clear_cookies()
        signin.goto(f"{site.api.url}/ui/signin")
        signin.screenshot(path=ARTIFACTS / f"signin-{width}.png", full_page=True)
        found[f"signin-{width}"] = _axe(signin)
        signin.close()
        page = sign_in(context, site, "admin")
        for name, path in _pages(site).items():
            page.goto(site.api.url + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)
            assert page.evaluate("() => window.__xss") is None, name
            assert page.locator("img[src='x']").count() == 0, name
            found[f"{name}-{width}"] = _axe(page)  # at both widths: a narrow screen scrolls, hides, stacks
            # a table is a table when wide and a column of cards when narrow, nothing in between
            shown = page.evaluate(STACKED)
            assert set(shown) <= ({"table-row-group"} if width == 1280 else {"block"}), (name, width, shown)
            if width == 320:  # readable at 320 px: nothing but the scrolling tables is wider than the screen
                wide = page.evaluate("() => document.documentElement.scrollWidth")
                assert wide <= 330, (name, wide)
        page.goto(f"{site.api.url}/ui/cases/{site.case_id}")
        expect(page.locator("table.timeline")).to_contain_text(SCRIPT)
        expect(page.locator("table.timeline")).to_contain_text(IMG)
        context.close()
    assert dialogs == []
    assert {name: v for name, v in found.items() if v} == {}
