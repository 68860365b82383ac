"""The Python docs/integrators.md gives integrators to copy is run here, as the doc shows it, against a real
``complaints serve``: each block is taken from the doc by its heading and executed.

- "Verifying a signature": accepts what ``complaints serve`` sent to a loopback receiver, and refuses that
  body tampered with, another secret, and a timestamp older than 5 minutes (so it cannot drift from
  service/signing.py).
- "Following the feed": the reader that stores its cursor with each entry's effect handles every entry
  exactly once across a crash in the middle of a page.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import Settings, bootstrap
from api.http.deps import create_token
from service.webhooks import Webhooks
from tests.docs_blocks import ROOT, blocks
from tests.e2e.serve_process import Served, start_serve
from tests.integration.test_timers_support import POLICY, RECEIVE, write_policy
from tests.webhook_receiver import Receiver
from workflow.clock import SystemClock

pytestmark = pytest.mark.e2e
DOC = ROOT / "docs" / "integrators.md"
HEADING = "## Verifying a signature"

Verify = Callable[..., bool]


def snippet(heading: str = HEADING, path: Path = DOC) -> str:
    """The first ``python`` block under ``heading`` (before the next heading of its level)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    found = [b for b in blocks(path) if b.tag == "python" and start < b.line <= end]
    assert found, f"no python block under {heading!r} in {path.name}"
    return "\n".join(found[0].lines) + "\n"


def doc_function(heading: str, name: str) -> Callable[..., Any]:
    """``name`` as the doc's block under ``heading`` defines it, run with nothing of the project imported."""
    source = snippet(heading)
    for ours in ("service", "storage", "api", "workflow", "tests"):  # an integrator has none of the project
        assert f"from {ours}" not in source and f"import {ours}" not in source, f"the snippet imports {ours}"
    namespace: dict[str, object] = {"__name__": "integrator"}
    exec(compile(source, f"{DOC.name}:{heading}", "exec"), namespace)  # noqa: S102 (the doc's own code)
    found = namespace.get(name)
    assert callable(found), f"the block under {heading!r} defines no {name}()"
    return found


def doc_verify() -> Verify:
    return doc_function(HEADING, "verify")


def test_the_snippet_is_found_under_its_heading() -> None:
    source = snippet()
    assert "def verify(" in source and "compare_digest" in source and "sha256" in source


def _resigned(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@pytest.fixture
def delivered(db_url: str, tmp_path: Path) -> Iterator[tuple[str, bytes, str]]:
    """One real delivery, as the receiver got it: (secret, raw body, signature header)."""
    folder = write_policy(tmp_path / "policies")
    app = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(folder)), clock=SystemClock())
    receiver = Receiver()
    served: Served | None = None
    try:
        secret = Webhooks(app.engine, app.clock).add(receiver.url)["secret"]
        receiver.secret = secret
        app.service.open_case(POLICY, RECEIVE)
        served = start_serve(db_url, tmp_path / "serve.log", extra_env={"COMPLAINTS_POLICY_DIR": str(folder)})
        end = time.monotonic() + 30
        while not receiver.delivered():
            assert time.monotonic() < end, f"nothing delivered in 30 s:\n{served.log()[-3000:]}"
            time.sleep(0.05)
        [arrival] = receiver.delivered()[:1]
        header = next(v for k, v in arrival.headers.items() if k.lower() == "complaints-signature")
        yield secret, arrival.body, header
    finally:
        if served is not None:
            served.stop()
        receiver.close()
        app.engine.dispose()


def test_the_doc_snippet_accepts_a_real_delivery_and_rejects_tampering_and_replays(
    delivered: tuple[str, bytes, str],
) -> None:
    secret, body, header = delivered
    verify = doc_verify()
    assert b'"type":"uk.complaints.receive"' in body
    assert verify(secret, body, header), f"the doc's verify refused a real delivery: {header}"
    signed_at = int(dict(p.split("=", 1) for p in header.split(","))["t"])
    # tampered body, another secret, a mangled or missing header: refused
    assert not verify(secret, body.replace(b'"seq":1', b'"seq":2'), header)
    assert not verify(secret, body + b" ", header)
    assert not verify("whsec_not_the_secret", body, header)
    assert not verify(secret, body, header.replace("v1=", "v1=0"))
    for garbage in ("", "t=abc,v1=00", "v1=00", "nonsense", f"t={signed_at},v1=\u00e9", f"t={signed_at}"):
        assert not verify(secret, body, garbage)
    # a replay: the real header more than 5 minutes later, or a body signed (correctly) 301 s ago
    assert verify(secret, body, header, now=signed_at + 299)
    assert not verify(secret, body, header, now=signed_at + 301)
    assert not verify(secret, body, _resigned(secret, body, int(time.time()) - 301))
    assert verify(secret, body, _resigned(secret, body, int(time.time()) - 5))


class Crash(Exception):
    """The reader's process dying while it handles an entry."""


def test_the_doc_reader_handles_every_entry_exactly_once_across_a_crash(db_url: str, tmp_path: Path) -> None:
    read_page = doc_function("## Following the feed", "read_page")
    folder = write_policy(tmp_path / "policies")
    app = bootstrap(Settings(db_url=db_url, extra_policy_dir=str(folder)), clock=SystemClock())
    served: Served | None = None
    db = sqlite3.connect(tmp_path / "reader.db", isolation_level=None)
    db.execute("CREATE TABLE feed_position (cursor TEXT NOT NULL)")
    db.execute("INSERT INTO feed_position VALUES ('0.0.0')")
    db.execute("CREATE TABLE handled (id TEXT PRIMARY KEY)")  # a second handling of one entry would fail here
    db.isolation_level = ""  # the doc's `with db:` opens and commits (or rolls back) each transaction
    try:
        for _ in range(5):
            case_id = app.service.open_case(POLICY, RECEIVE)["id"]
            app.service.apply(case_id, "withdraw", {})
        token = create_token(app.engine, "reader", "automation", app.clock.now())
        served = start_serve(db_url, tmp_path / "serve.log", extra_env={"COMPLAINTS_POLICY_DIR": str(folder)})
        crash_at = {"event-4"}

        def handle(connection: sqlite3.Connection, entry: dict[str, Any]) -> None:
            connection.execute("INSERT INTO handled VALUES (?)", (entry["id"],))
            if entry["id"] in crash_at:
                crash_at.clear()
                raise Crash  # mid-transaction: the insert above and this entry's cursor roll back together

        with pytest.raises(Crash):
            read_page(served.url, token, db, handle)
        assert [r[0] for r in db.execute("SELECT id FROM handled ORDER BY rowid")] == ["event-1", "event-2", "event-3"]
        end = time.monotonic() + 30
        while read_page(served.url, token, db, handle):  # restarted: resumes at the stored cursor
            assert time.monotonic() < end
        handled = [r[0] for r in db.execute("SELECT id FROM handled ORDER BY rowid")]
        assert handled == [f"event-{i}" for i in range(1, 11)]
        case_id = app.service.open_case(POLICY, RECEIVE)["id"]  # a new event: the next read has it, and only it
        assert read_page(served.url, token, db, handle) == 1
        assert db.execute("SELECT count(*) FROM handled").fetchone() == (11,)
    finally:
        db.close()
        if served is not None:
            served.stop()
        app.engine.dispose()
