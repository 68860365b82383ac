"""The console screenshots in docs/ (console-*.png), taken from a store of a few made-up but plausible cases.

    .venv/bin/python scripts/console_screenshots.py [--out docs]

It starts `complaints serve` on a fresh SQLite file (tests/e2e/test_http_helpers.served),
opens cases under four policies with back-dated events (one acknowledgement
overdue, one case at stage 2), signs in to the console in Debian's Chromium
(headless, /usr/bin/chromium, as the browser tests do) and saves each page at
1280 px wide, cut to its first screenful or two so the PNGs stay small. The
browser tests' own screenshots (tmp/artifacts/console) show every page at
1280 and 320 px; these are the ones the docs show.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.test_http_helpers import Api, served  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _at(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _open(api: Api, policy: str, days_ago: int) -> str:
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago, hours=3)
    data = {"incident_date": _at(received - timedelta(days=2))[:10], "formal": True}
    body = {"policy": policy, "data": data, "occurred_at": _at(received)}
    answer = api.call("POST", "/cases", "automation", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _event(api: Api, case_id: str, name: str, data: dict[str, object], days_ago: int) -> None:
    occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago, hours=1)
    body = {"name": name, "data": data, "occurred_at": _at(occurred)}
    answer = api.call("POST", f"/cases/{case_id}/events", "automation", json=body)
    assert answer.status_code == 200, answer.text


def _ack(handler: str) -> dict[str, object]:
    return {
        "handler": handler,
        "handler_role": "officer",
        "complaint_definition": "Repeated leak from the bathroom ceiling into the kitchen since August.",
        "outcomes_sought": "Repair the leak and redecorate the kitchen ceiling.",
    }


def store(api: Api) -> str:
    """A few cases; returns the one the case screenshot shows."""
    shown = _open(api, "livin", 9)
    _event(api, shown, "acknowledge", _ack("Amy Patel"), 5)
    for policy, days_ago, handler in (
        ("b3living", 4, "Tom Hughes"),
        ("code_2024", 4, "Priya Shah"),
        ("brighter_places", 2, None),
        ("code_2024", 30, None),  # never acknowledged: overdue
        ("resolution_team", 1, None),
    ):
        case_id = _open(api, policy, days_ago)
        if handler:
            _event(api, case_id, "acknowledge", _ack(handler), days_ago - 1)
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    out = Path(parser.parse_args().out)
    with tempfile.TemporaryDirectory() as folder, served(f"sqlite:///{folder}/shots.db", Path(folder) / "log") as api:
        case_id = store(api)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(f"{api.url}/ui/signin")
            page.get_by_label("Token").fill(api.tokens["admin"])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/ui/work")
            shots = {
                "console-work": ("/ui/work", 800),
                "console-case": (f"/ui/cases/{case_id}", 1400),
                "console-policy": ("/ui/policies/livin/1", 1100),
                "console-reports": ("/ui/reports?homes=5000", 1500),
            }
            for name, (path, height) in shots.items():
                page.goto(api.url + path)
                page.wait_for_load_state("networkidle")
                full = page.evaluate("() => document.documentElement.scrollHeight")
                clip = {"x": 0, "y": 0, "width": 1280, "height": min(height, full)}
                page.screenshot(path=out / f"{name}.png", clip=clip, full_page=True)
                print(out / f"{name}.png")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
