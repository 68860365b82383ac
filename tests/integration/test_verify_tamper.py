"""Tamper evidence on SQLite and PostgreSQL: `complaints verify` finds each edit, names case and seq, exits 1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from api.bootstrap import App, Settings, bootstrap
from api.cli import main
from service import audit
from service.audit import AuditService
from storage.tables import cases, events
from workflow.clock import ManualClock

START = datetime(2026, 12, 18, 10, tzinfo=UTC)
RECEIVE = {"channel": "phone", "incident_date": "2026-12-10", "formal": True}
ACK = {"handler": "amy", "handler_role": "manager", "complaint_definition": "Boiler", "outcomes_sought": "Repair"}
LETTER = {
    "decision": "upheld",
    "reasons": "Two missed visits",
    "remedy": "Repair",
    "outstanding_actions": "none",
    "escalation_route": "stage 2",
    "ombudsman_info": "HOS",
}


@pytest.fixture
def app(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("COMPLAINTS_DB_URL", db_url)
    clock = ManualClock(START)
    app = bootstrap(Settings(db_url=db_url), clock=clock)
    for case_id in ("alpha", "beta"):
        app.service.open_case("b3living", RECEIVE, case_id=case_id, actor="crm")
    clock.advance(timedelta(days=4, hours=1))
    for case_id in ("alpha", "beta"):
        app.service.apply(case_id, "acknowledge", ACK, actor="crm")
    clock.advance(timedelta(days=14))
    app.service.apply("alpha", "respond", LETTER, actor="crm")  # alpha: seq 3 respond
    clock.advance(timedelta(days=40))
    app.service.fire_due()  # alpha: seq 4 escalation window passes; beta: seq 3 response breached
    yield app
    app.engine.dispose()


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["verify", "--jobs", "1", *args])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, lines


def _execute(app: App, *statements: sa.Executable) -> None:
    with app.engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def _alpha(seq: int) -> sa.ColumnElement[bool]:
    return sa.and_(events.c.case_id == "alpha", events.c.seq == seq)


def test_an_untouched_store_verifies(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _verify(capsys)
    assert code == 0
    assert lines == ["verified 2 case(s), 7 event(s): all hold"]
    assert main(["verify", "--case", "beta"]) == 0


def test_one_changed_byte_of_event_data_is_found(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    with app.engine.connect() as c:
        data = c.execute(sa.select(events.c.data).where(_alpha(2))).scalar_one()
    _execute(app, sa.update(events).where(_alpha(2)).values(data={**data, "handler": "amz"}))
    code, lines = _verify(capsys)
    assert code == 1
    assert "case alpha seq 2: hash_mismatch: the event's content does not match its hash" in lines
    assert all(line.startswith("case alpha ") for line in lines[:-1])
    assert lines[-1].startswith("verified 2 case(s), 7 event(s): ") and "in 1 case(s)" in lines[-1]


def test_a_deleted_event_is_found(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    _execute(app, sa.delete(events).where(_alpha(2)))
    code, lines = _verify(capsys)
    assert code == 1
    assert "case alpha seq 3: sequence_gap: event(s) 2 missing before this one" in lines
    assert "case alpha seq 3: chain_broken: prev_hash does not match the hash of seq 1" in lines


def test_a_deleted_last_event_is_found_by_the_replay(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    _execute(app, sa.delete(events).where(_alpha(4)))  # the chain up to seq 3 is intact; the snapshot is at 4
    code, lines = _verify(capsys, "--case", "alpha")
    assert code == 1
    assert any(line.startswith("case alpha seq 3: snapshot_differs: snapshot state is 'closed'") for line in lines)
    assert any(line.startswith("case alpha seq 3: case_row_differs: cases.version is 4") for line in lines)


def test_two_reordered_events_are_found(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    _execute(
        app,
        sa.update(events).where(_alpha(2)).values(seq=-2),
        sa.update(events).where(_alpha(3)).values(seq=2),
        sa.update(events).where(_alpha(-2)).values(seq=3),
    )
    code, lines = _verify(capsys)
    assert code == 1
    assert "case alpha seq 2: hash_mismatch: the event's content does not match its hash" in lines
    assert "case alpha seq 2: chain_broken: prev_hash does not match the hash of seq 1" in lines
    assert "case alpha seq 3: hash_mismatch: the event's content does not match its hash" in lines
    assert any(line.startswith("case alpha seq 3: replay_refused: acknowledge is refused on replay") for line in lines)
    # the other audit views say so plainly, or show the store's own snapshot, marked unverified
    assert main(["replay", "alpha"]) == 2
    assert capsys.readouterr().err.startswith("error: history_does_not_replay: case alpha: its stored history")
    assert main(["history", "alpha"]) == 0
    assert "history: NOT VERIFIED" in capsys.readouterr().out


def test_a_state_edited_in_the_cases_table_is_found(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    _execute(app, sa.update(cases).where(cases.c.id == "beta").values(state="closed"))
    code, lines = _verify(capsys)
    assert code == 1
    assert lines[:-1] == ["case beta seq 3: case_row_differs: cases.state is 'closed', replay gives 'stage_1'"]


def test_a_state_edited_in_the_snapshot_is_found(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    with app.engine.connect() as c:
        snapshot = c.execute(sa.select(cases.c.snapshot).where(cases.c.id == "beta")).scalar_one()
    snapshot = {**snapshot, "state": "closed", "closure_reason": "withdrawn"}
    snapshot["deadlines"] = [{**d, "status": "met"} if d["status"] == "passed" else d for d in snapshot["deadlines"]]
    _execute(app, sa.update(cases).where(cases.c.id == "beta").values(snapshot=snapshot))
    code, lines = _verify(capsys, "--case", "beta")
    assert code == 1
    assert "case beta seq 3: snapshot_differs: snapshot state is 'closed', replay gives 'stage_1'" in lines
    assert any(
        line.startswith("case beta seq 3: deadline_differs: snapshot 2 (stage_1_response): status") for line in lines
    )


def test_a_deadline_row_edited_is_found(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    from storage.tables import deadlines

    _execute(
        app,
        sa.update(deadlines).where(deadlines.c.case_id == "beta", deadlines.c.number == 2).values(status="met"),
    )
    code, lines = _verify(capsys)
    assert code == 1
    assert lines[:-1] == [
        "case beta seq 3: deadline_differs: deadlines row 2 (stage_1_response): status 'met' (replay 'passed')"
    ]


def test_verify_json_and_an_unknown_case(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--json", "--jobs", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "cases": 2, "events": 7, "problems": []}
    assert main(["verify", "--case", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "error: case_not_found: no case 'nope'"


def test_worker_processes_find_the_same_problems(app: App, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _execute(app, sa.delete(events).where(_alpha(2)))
    monkeypatch.setattr(audit, "PAGE", 1)  # one case a page, so two pages go to two workers
    one = AuditService(app.engine, app.catalog).verify(jobs=1)
    two = AuditService(app.engine, app.catalog).verify(jobs=2)
    assert (two.cases, two.events) == (one.cases, one.events) == (2, 6)
    assert sorted(p.line() for p in two.problems) == sorted(p.line() for p in one.problems)
    assert two.problems
    from service.audit.checkpoint import Checkpoint

    first = AuditService(app.engine, app.catalog).verify(jobs=2, checkpoint=Checkpoint())
    assert (first.replayed, sorted(first.seen)) == (2, ["beta"])  # alpha has problems: nothing recorded for it
    again = AuditService(app.engine, app.catalog).verify(jobs=2, checkpoint=Checkpoint(first.seen))
    assert again.replayed == 1 and sorted(p.line() for p in again.problems) == sorted(p.line() for p in one.problems)


def test_workers_start_fresh_where_this_process_runs_threads(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forked from the CLI (no other thread), spawned from a process with threads: the same findings either way."""
    import multiprocessing

    from service.audit import scan as audit_scan

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert audit_scan._worker_context().get_start_method() == "spawn"
    finally:
        release.set()
        other.join()
    with monkeypatch.context() as patched:
        patched.setattr(audit_scan.threading, "active_count", lambda: 1)
        assert audit_scan._worker_context().get_start_method() == "fork"

    _execute(app, sa.delete(events).where(_alpha(2)))
    monkeypatch.setattr(audit, "PAGE", 1)
    found = {}
    for method in ("fork", "spawn"):
        monkeypatch.setattr(audit_scan, "_worker_context", lambda m=method: multiprocessing.get_context(m))
        report = AuditService(app.engine, app.catalog).verify(jobs=2)
        found[method] = (report.cases, report.events, sorted(p.line() for p in report.problems))
    assert found["fork"] == found["spawn"] and found["fork"][2]


# -- checkpoints: an anchor kept outside the database, and incremental runs ----------------------------------------


def _rechain(app: App, case_id: str) -> None:
    """What a writer with database access could do: rewrite a case's whole chain consistently."""
    from workflow.audit.canonical import GENESIS, row_hash

    with app.engine.begin() as connection:
        rows = connection.execute(sa.select(events).where(events.c.case_id == case_id).order_by(events.c.seq)).all()
        prev = GENESIS
        for row in rows:
            fields = {**row._mapping, "prev_hash": prev}
            digest = row_hash(fields)
            connection.execute(sa.update(events).where(events.c.id == row.id).values(prev_hash=prev, hash=digest))
            prev = digest


def test_a_checkpoint_replays_only_what_changed(app: App, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    checkpoint = str(tmp_path / "verified.json")
    code, lines = _verify(capsys, "--checkpoint", checkpoint)
    assert (code, lines) == (
        0,
        ["verified 2 case(s), 7 event(s) (2 replayed, the rest unchanged since the checkpoint): all hold"],
    )
    code, lines = _verify(capsys, "--checkpoint", checkpoint)
    assert lines == ["verified 2 case(s), 7 event(s) (0 replayed, the rest unchanged since the checkpoint): all hold"]
    app.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    app.service.apply("beta", "add_issue", {"description": "and the fence"}, actor="crm")
    code, lines = _verify(capsys, "--checkpoint", checkpoint)
    assert lines == ["verified 2 case(s), 8 event(s) (1 replayed, the rest unchanged since the checkpoint): all hold"]
    # an edit to a stored row is still found in a case that is not replayed: every row is re-hashed
    _execute(app, sa.update(events).where(_alpha(1)).values(actor="mallory"))
    code, lines = _verify(capsys, "--checkpoint", checkpoint)
    assert code == 1 and "case alpha seq 1: hash_mismatch: the event's content does not match its hash" in lines


def test_a_checkpoint_catches_a_consistently_rewritten_chain(
    app: App, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    checkpoint = str(tmp_path / "verified.json")
    assert _verify(capsys, "--checkpoint", checkpoint)[0] == 0
    _execute(app, sa.update(events).where(_alpha(2)).values(actor="mallory"))
    _rechain(app, "alpha")
    assert _verify(capsys)[0] == 0  # the chain alone cannot tell: every hash was recomputed
    code, lines = _verify(capsys, "--checkpoint", checkpoint)
    assert code == 1
    assert lines[0].startswith("case alpha seq 4: history_rewritten: event 4 is not the one the checkpoint recorded")
    code, lines = _verify(capsys, "--checkpoint", checkpoint)  # the old entry is kept: it stays reported
    assert code == 1 and lines[0].startswith("case alpha seq 4: history_rewritten")


def test_a_checkpoint_catches_a_deleted_case(app: App, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    from storage.tables import deadlines

    checkpoint = str(tmp_path / "verified.json")
    assert _verify(capsys, "--checkpoint", checkpoint)[0] == 0
    _execute(
        app,
        sa.delete(deadlines).where(deadlines.c.case_id == "beta"),
        sa.delete(events).where(events.c.case_id == "beta"),
        sa.delete(cases).where(cases.c.id == "beta"),
    )
    assert _verify(capsys)[0] == 0
    code, lines = _verify(capsys, "--checkpoint", checkpoint)
    assert code == 1
    assert lines[0] == "case beta seq 3: case_missing: the checkpoint recorded this case; it is not in the store"


def test_an_unreadable_checkpoint_is_a_clear_error(app: App, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["verify", "--checkpoint", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: invalid_checkpoint: cannot read the checkpoint {bad}")


def test_an_event_renamed_to_an_unknown_event_is_found(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    """A name no policy knows used to stop verify with UnknownEvent; it is a finding like any other edit."""
    _execute(app, sa.update(events).where(_alpha(2)).values(name="teleport"))
    code, lines = _verify(capsys)
    assert code == 1
    assert "case alpha seq 2: hash_mismatch: the event's content does not match its hash" in lines
    assert "case alpha seq 2: replay_refused: teleport is refused on replay: unknown_event" in lines
    assert all(line.startswith("case alpha seq 2: ") for line in lines[:-1])  # the replay stops there
    assert lines[-1].startswith("verified 2 case(s), 7 event(s): ") and "in 1 case(s)" in lines[-1]
    report = AuditService(app.engine, app.catalog).verify(case_id="alpha")
    assert {(p.seq, p.code) for p in report.problems} == {(2, "hash_mismatch"), (2, "replay_refused")}
