"""What events and passings do to a case's deadlines (DOMAIN.md, Deadlines), under every policy.

Stories start on Monday 7 June 2027 (tests/unit/case_builder.py). Hand-worked dates: 5 WD after 7 June is
14 June, 10 WD is 21 June, 20 WD is 5 July; livin's 2 WD is 9 June; passings are at 23:00 UTC (BST).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.case_builder import POLICIES, Story, at_stage_2_requested, story
from tests.unit.test_policies import EXPECTED

FROM_ACK_S1 = {"code_2024@1", "b3living@1", "resolution_team@1"}
FROM_ACK_S2 = {"code_2024@1", "resolution_team@1", "livin@1"}
INFORMAL = [r for r in POLICIES if EXPECTED[r]["informal"] is not None]
WINDOWED = [r for r in POLICIES if EXPECTED[r]["window"] is not None]


def passing(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:00:00").replace(tzinfo=UTC)


def statuses(s: Story, kind: str) -> list[str]:
    return [d.status for d in s.case.deadlines if d.kind == kind]


# --- opening the stage 1 clocks -------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_receive_opens_the_acknowledgement_and_the_response_where_it_counts_from_logging(ref: str) -> None:
    ack = "2027-06-09" if ref == "livin@1" else "2027-06-14"
    expected = {"stage_1_acknowledgement": ack}
    if ref not in FROM_ACK_S1:
        expected["stage_1_response"] = "2027-06-21"
    assert story(ref).case.open_deadlines_map() == expected


@pytest.mark.parametrize("ref", POLICIES)
def test_only_the_first_acknowledgement_starts_the_response_clock(ref: str) -> None:
    s = story(ref).ack()
    assert s.case.open_deadlines_map() == {"stage_1_response": "2027-06-21"}
    s.wait(days=2).ack(handler="Cy Long")
    assert s.case.open_deadlines_map() == {"stage_1_response": "2027-06-21"}
    assert statuses(s, "stage_1_acknowledgement") == ["met"]


@pytest.mark.parametrize("ref", sorted(FROM_ACK_S1))
def test_a_missed_acknowledgement_opens_a_provisional_response_that_the_acknowledgement_re_anchors(ref: str) -> None:
    s = story(ref).until(passing("2027-06-14"))
    assert s.case.open_deadlines_map() == {"stage_1_response": "2027-06-28"}  # 10 WD after 14 June
    s.until(passing("2027-06-28"))  # the provisional date is missed too
    assert s.case.breaches == ["stage_1_acknowledgement", "stage_1_response"]
    s.wait(days=1).ack()  # Wed 30 June -> 10 WD = 14 July
    assert s.case.open_deadlines_map() == {"stage_1_response": "2027-07-14"}
    assert s.case.breaches == ["stage_1_acknowledgement", "stage_1_response"]  # the breach stays


# --- stage 0 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", INFORMAL)
def test_a_missed_informal_reply_is_recorded_or_moves_the_case_as_the_policy_says(ref: str) -> None:
    s = story(ref, formal=False)
    due = "2027-06-11" if ref == "livin@1" else "2027-06-14"  # livin 4 WD, others 5 WD
    assert s.case.open_deadlines_map() == {"informal_response": due}
    s.until(passing(due))
    assert s.case.breaches == ["informal_response"]
    if EXPECTED[ref]["informal"][1] == "record":
        assert (s.case.state, s.case.open_deadlines_map()) == ("stage_0", {})
        return
    # brighter_places: logged on Tue 15 June: ack 5 WD = 22 June, response 10 WD = 29 June
    assert s.case.state == "stage_1"
    assert s.case.open_deadlines_map() == {"stage_1_acknowledgement": "2027-06-22", "stage_1_response": "2027-06-29"}


@pytest.mark.parametrize("ref", INFORMAL)
def test_log_formal_meets_the_informal_reply_and_opens_stage_1_from_its_day(ref: str) -> None:
    s = story(ref, formal=False).wait(days=1).do("log_formal", {"requested_by": "customer"})
    assert statuses(s, "informal_response") == ["met"]
    expected = {"stage_1_acknowledgement": "2027-06-10" if ref == "livin@1" else "2027-06-15"}
    if ref not in FROM_ACK_S1:
        expected["stage_1_response"] = "2027-06-22"
    assert s.case.open_deadlines_map() == expected


# --- extensions and keep-in-loop ---------------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_extend_replaces_the_response_which_is_neither_met_nor_breached(ref: str) -> None:
    s = story(ref).ack().do("extend", {"new_due": "2027-06-30", "reason": "r", "ombudsman_details_given": True})
    assert statuses(s, "stage_1_response") == ["replaced", "open"]
    updates = {"stage_1_update": "2027-07-05"} if ref == "livin@1" else {}  # 10 WD after the original 21 June
    assert s.case.open_deadlines_map() == {"stage_1_response": "2027-06-30", **updates}
    assert s.case.breaches == []


@pytest.mark.parametrize("ref", POLICIES)
def test_extending_after_the_response_date_passed_keeps_the_breach(ref: str) -> None:
    s = story(ref).ack().until(passing("2027-06-21"))
    s.do("extend", {"new_due": "2027-07-02", "reason": "r", "ombudsman_details_given": True})
    assert statuses(s, "stage_1_response") == ["passed", "open"]
    assert s.case.breaches == ["stage_1_response"]
    s.until(passing("2027-07-02"))
    assert s.case.breaches.count("stage_1_response") == 2  # missed again


@pytest.mark.parametrize("ref", POLICIES)
def test_a_missed_response_starts_updates_only_in_keep_in_loop_policies(ref: str) -> None:
    s = story(ref).ack().until(passing("2027-06-21"))
    expected = {"stage_1_update": "2027-07-05"} if ref == "livin@1" else {}
    assert s.case.open_deadlines_map() == expected


def test_record_update_meets_the_update_and_opens_the_next_from_its_own_day() -> None:
    s = story("livin@1").ack().until(passing("2027-06-21")).wait(days=1, hours=10)  # 09:00 UTC Wed 23 June
    s.do("record_update", {"summary": "chasing"})
    assert statuses(s, "stage_1_update") == ["met", "open"]
    assert s.case.open_deadlines_map() == {"stage_1_update": "2027-07-07"}  # 10 WD after 23 June


def test_a_missed_update_is_breached_and_the_next_is_due_from_the_missed_date() -> None:
    s = story("livin@1").ack().until(passing("2027-07-05"))
    assert s.case.breaches == ["stage_1_response", "stage_1_update"]
    assert s.case.open_deadlines_map() == {"stage_1_update": "2027-07-19"}  # 10 WD after 5 July


@pytest.mark.parametrize("ref", POLICIES)
def test_record_update_with_no_update_due_changes_no_deadline(ref: str) -> None:
    s = story(ref)
    before = s.case.open_deadlines_map()
    s.do("record_update", {"summary": "called"})
    assert s.case.open_deadlines_map() == before


@pytest.mark.parametrize("ref", POLICIES)
def test_add_issue_changes_no_deadline(ref: str) -> None:
    s = story(ref).ack()
    before = [d.to_dict() for d in s.case.deadlines]
    s.do("add_issue", {"description": "also the gutter"})
    assert [d.to_dict() for d in s.case.deadlines] == before


# --- leaving a stage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", POLICIES)
def test_respond_meets_the_acknowledgement_and_response_and_opens_the_window(ref: str) -> None:
    s = story(ref).respond()  # responded before acknowledging
    assert statuses(s, "stage_1_acknowledgement") == ["met"]
    window = {
        "b3living@1": "2027-07-05",
        "b3living@2": "2027-07-05",
        "resolution_team@1": "2027-06-28",
        "brighter_places@1": "2027-06-28",
        "livin@1": "2027-06-21",
    }
    assert s.case.open_deadlines_map() == ({"escalation_window": window[ref]} if ref in window else {})


@pytest.mark.parametrize("ref", WINDOWED)
def test_close_leaves_the_window_running_and_withdraw_cancels_it(ref: str) -> None:
    closed = story(ref).ack().respond().do("close", {"summary": "ok"})
    assert list(closed.case.open_deadlines_map()) == ["escalation_window"]
    withdrawn = story(ref).ack().respond().do("withdraw", {"summary": "gone"})
    assert (withdrawn.case.closure_reason, withdrawn.case.open_deadlines_map()) == ("withdrawn", {})
    assert statuses(withdrawn, "escalation_window") == ["cancelled"]


@pytest.mark.parametrize("ref", POLICIES)
def test_withdraw_and_decline_cancel_every_open_obligation(ref: str) -> None:
    s = story(ref).do("withdraw", {})
    assert s.case.open_deadlines_map() == {}
    assert all(d.status in ("cancelled", "met") for d in s.case.deadlines)
    s = story("livin@1").ack().until(passing("2027-06-21")).do("decline", {"reason": "service_request"})
    assert statuses(s, "stage_1_update") == ["cancelled"]


@pytest.mark.parametrize("ref", POLICIES)
def test_request_escalation_meets_the_window_and_opens_stage_2(ref: str) -> None:
    s = at_stage_2_requested(ref)
    if ref in WINDOWED:
        assert statuses(s, "escalation_window") == ["met"]
    ack = "2027-06-21" if ref == "livin@1" else "2027-06-14"  # livin 10 WD, others 5 WD
    expected = {"stage_2_acknowledgement": ack}
    if ref not in FROM_ACK_S2:
        expected["stage_2_response"] = "2027-07-05"  # 20 WD from the request
    assert s.case.open_deadlines_map() == expected


@pytest.mark.parametrize("ref", sorted(FROM_ACK_S2))
def test_a_missed_stage_2_acceptance_opens_a_provisional_response(ref: str) -> None:
    ack = "2027-06-21" if ref == "livin@1" else "2027-06-14"
    s = at_stage_2_requested(ref).until(passing(ack))
    # livin: 10 WD after 21 June = 5 July; the others: 20 WD after 14 June = 12 July
    provisional = "2027-07-05" if ref == "livin@1" else "2027-07-12"
    assert s.case.open_deadlines_map() == {"stage_2_response": provisional}
    s.wait(hours=12).accept()  # 11:00 UTC the next day
    # re-anchored on the acceptance day: livin 22 June + 10 WD = 6 July; others 15 June + 20 WD = 13 July
    assert s.case.open_deadlines_map() == {"stage_2_response": "2027-07-06" if ref == "livin@1" else "2027-07-13"}


@pytest.mark.parametrize("ref", [r for r in POLICIES if EXPECTED[r]["grounds"]])
def test_refuse_escalation_meets_the_acknowledgement_and_cancels_the_stage_2_response(ref: str) -> None:
    s = at_stage_2_requested(ref).do("refuse_escalation", {"reason": sorted(EXPECTED[ref]["grounds"])[0]})
    assert statuses(s, "stage_2_acknowledgement") == ["met"]
    if ref not in FROM_ACK_S2:
        assert statuses(s, "stage_2_response") == ["cancelled"]
    wait = {"ombudsman_wait": "2027-08-02"} if EXPECTED[ref]["wait"] else {}  # 8 weeks after 7 June
    assert s.case.open_deadlines_map() == wait


@pytest.mark.parametrize("ref", POLICIES)
def test_the_final_response_meets_stage_2_and_opens_the_wait_where_there_is_one(ref: str) -> None:
    s = at_stage_2_requested(ref).accept().respond()
    assert (s.case.state, s.case.closure_reason) == ("closed", "final_response")
    assert statuses(s, "stage_2_response") == ["met"]
    wait = {"ombudsman_wait": "2027-08-02"} if EXPECTED[ref]["wait"] else {}
    assert s.case.open_deadlines_map() == wait
