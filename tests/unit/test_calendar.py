"""The working-day calendar (DOMAIN.md, Deadlines): one counting rule for every policy.

Expected dates are worked out by hand from the England and Wales bank holidays (gov.uk) and a printed
calendar; each test says how.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from workflow.calendar import (
    Duration,
    DurationError,
    WorkingCalendar,
    add_months,
    breach_instant,
    is_bank_holiday,
    local_date,
    start_of_local_day,
)

CAL = WorkingCalendar()


def d(text: str) -> date:
    return date.fromisoformat(text)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- bank holidays ---------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        "2026-12-25",
        "2026-12-28",  # Boxing Day falls on a Saturday: substitute Monday
        "2027-01-01",
        "2027-03-26",  # Good Friday
        "2027-03-29",  # Easter Monday
        "2027-05-03",
        "2027-05-31",
        "2027-08-30",
        "2027-12-27",  # Christmas Day (Saturday) substitute
        "2027-12-28",  # Boxing Day (Sunday) substitute
        "2028-01-03",  # New Year's Day (Saturday) substitute
    ],
)
def test_england_and_wales_bank_holidays_are_not_working_days(day: str) -> None:
    assert is_bank_holiday(d(day))
    assert not CAL.is_working_day(d(day))


@pytest.mark.parametrize("day", ["2027-03-17", "2027-11-30", "2027-07-12", "2027-08-02"])
def test_holidays_of_scotland_and_northern_ireland_are_working_days(day: str) -> None:
    # St Patrick's Day (NI), St Andrew's Day (Scotland, a Tuesday in 2027), the Twelfth (NI, a Monday),
    # the Scottish August bank holiday (first Monday of August): none is a holiday in England and Wales.
    assert not is_bank_holiday(d(day))
    assert CAL.is_working_day(d(day))


def test_weekends_are_not_working_days() -> None:
    assert not CAL.is_working_day(d("2027-06-05"))  # Saturday
    assert not CAL.is_working_day(d("2027-06-06"))  # Sunday
    assert CAL.is_working_day(d("2027-06-07"))  # Monday


# --- counting working days -------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "n", "due", "how"),
    [
        ("2026-12-18", 5, "2026-12-29", "DOMAIN.md's example: 21-24 (4), 25 and 28 holidays, 29"),
        ("2027-06-07", 1, "2027-06-08", "the anchor never counts: Monday -> Tuesday"),
        ("2027-06-04", 1, "2027-06-07", "Friday -> Monday"),
        ("2027-06-05", 1, "2027-06-07", "an anchor on a Saturday counts from Monday"),
        ("2027-05-29", 2, "2027-06-02", "Saturday, then (31 May holiday) 1, 2 June"),
        ("2027-03-25", 1, "2027-03-30", "Easter: 26 and 29 March are holidays"),
        ("2027-03-22", 5, "2027-03-31", "23, 24, 25, 30, 31"),
        ("2027-12-23", 4, "2027-12-31", "24, (27, 28 substitutes) 29, 30, 31"),
        ("2027-12-23", 5, "2028-01-04", "then 1 Jan is a Saturday and 3 Jan its substitute"),
        ("2027-12-23", 15, "2028-01-18", "24, 29, 30, 31 (4), 4-7 (8), 10-14 (13), 17, 18"),
        ("2027-08-26", 4, "2027-09-02", "27, (30 Aug) 31, 1, 2"),
        ("2027-05-20", 20, "2027-06-18", "21, 24-28, (31 May) 1-4 Jun, 7-11, 14-18"),
        ("2027-06-07", 0, "2027-06-07", "zero working days is the anchor's own date"),
    ],
)
def test_nth_working_day_strictly_after_the_anchor(anchor: str, n: int, due: str, how: str) -> None:
    assert CAL.add_working_days(d(anchor), n) == d(due), how


def test_the_policys_own_closure_days_are_not_working_days() -> None:
    # a made-up landlord closes 29-31 December 2027: 5 WD after 23 Dec becomes 24, then 4-7 Jan 2028
    closed = WorkingCalendar.with_closures([d("2027-12-29"), d("2027-12-30"), d("2027-12-31")])
    assert not closed.is_working_day(d("2027-12-30"))
    assert closed.add_working_days(d("2027-12-23"), 5) == d("2028-01-07")
    assert CAL.add_working_days(d("2027-12-23"), 5) == d("2028-01-04")


def test_working_days_between_counts_after_start_up_to_end() -> None:
    assert CAL.working_days_between(d("2026-12-18"), d("2026-12-29")) == 5
    assert CAL.working_days_between(d("2027-06-07"), d("2027-06-07")) == 0
    assert CAL.working_days_between(d("2027-06-08"), d("2027-06-07")) == 0


# --- durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("5 working days", 5, "working_days"),
        ("1 working day", 1, "working_days"),
        ("14 calendar days", 14, "calendar_days"),
        ("14 days", 14, "calendar_days"),
        ("4 weeks", 4, "weeks"),
        ("6 months", 6, "months"),
        ("12 Months", 12, "months"),
    ],
)
def test_durations_parse_in_the_seeds_units(text: str, amount: int, unit: str) -> None:
    assert Duration.parse(text) == Duration(amount, unit)


@pytest.mark.parametrize("text", ["five working days", "5 fortnights", "-5 working days", "5", "", "working days"])
def test_unreadable_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        Duration.parse(text)


def test_a_duration_that_is_not_text_is_refused() -> None:
    with pytest.raises(DurationError):
        Duration.parse(5)  # type: ignore[arg-type]


def test_duration_reads_back_in_words() -> None:
    assert str(Duration.parse("1 working day")) == "1 working day"
    assert str(Duration.parse("8 weeks")) == "8 weeks"


@pytest.mark.parametrize(
    ("anchor", "duration", "due", "how"),
    [
        ("2027-05-19", "14 calendar days", "2027-06-02", "19 May + 14"),
        ("2027-10-17", "14 calendar days", "2027-10-31", "lands on a Sunday: calendar days ignore weekends"),
        ("2027-08-02", "4 weeks", "2027-08-30", "+28 days lands on the August bank holiday, which windows ignore"),
        ("2027-06-17", "8 weeks", "2027-08-12", "+56 days"),
        ("2027-12-03", "8 weeks", "2028-01-28", "+56 days over the year end"),
        ("2026-08-31", "6 months", "2027-02-28", "31 February is missing: the month's last day"),
        ("2027-08-31", "6 months", "2028-02-29", "2028 is a leap year"),
        ("2026-03-31", "12 months", "2027-03-31", "same day a year on"),
        ("2027-06-07", "10 working days", "2027-06-21", "8-11 (4), 14-18 (9), 21"),
    ],
)
def test_calendar_adds_each_unit(anchor: str, duration: str, due: str, how: str) -> None:
    assert CAL.add(d(anchor), Duration.parse(duration)) == d(due), how


def test_add_months_runs_across_year_ends_and_clamps_short_months() -> None:
    assert add_months(d("2027-11-30"), 3) == d("2028-02-29")
    assert add_months(d("2027-01-31"), 1) == d("2027-02-28")
    assert add_months(d("2027-10-15"), 12) == d("2028-10-15")


# --- local dates and breach instants, across the clock changes --------------------


@pytest.mark.parametrize(
    ("instant", "local"),
    [
        ("2027-06-01T23:30:00", "2027-06-02"),  # 00:30 BST
        ("2027-06-01T22:59:59", "2027-06-01"),
        ("2027-01-31T23:30:00", "2027-01-31"),  # GMT: UTC and London agree
        ("2027-03-28T00:59:59", "2027-03-28"),  # the last second of GMT
        ("2027-03-28T23:00:00", "2027-03-29"),  # midnight BST
        ("2027-10-31T00:30:00", "2027-10-31"),  # 01:30 BST, before the change back
        ("2027-10-31T23:30:00", "2027-10-31"),  # 23:30 GMT
    ],
)
def test_local_date_is_the_london_date(instant: str, local: str) -> None:
    assert local_date(utc(instant)) == d(local)


@pytest.mark.parametrize(
    ("due", "breach"),
    [
        ("2027-01-15", "2027-01-16T00:00:00"),  # winter: local midnight is 00:00 UTC
        ("2027-07-15", "2027-07-15T23:00:00"),  # summer: local midnight is 23:00 UTC the day before
        ("2027-03-27", "2027-03-28T00:00:00"),  # the day before summer time: midnight is still GMT
        ("2027-03-28", "2027-03-28T23:00:00"),  # the day summer time begins (01:00 UTC)
        ("2027-03-31", "2027-03-31T23:00:00"),
        ("2027-10-30", "2027-10-30T23:00:00"),  # the day before summer time ends
        ("2027-10-31", "2027-11-01T00:00:00"),  # the day it ends: next midnight is GMT
        ("2026-10-25", "2026-10-26T00:00:00"),  # 2026's change, 25 October
    ],
)
def test_breach_instant_is_local_midnight_starting_the_next_day(due: str, breach: str) -> None:
    assert breach_instant(d(due)) == utc(breach)


def test_a_local_day_starts_at_its_london_midnight() -> None:
    assert start_of_local_day(d("2027-03-29")) == utc("2027-03-28T23:00:00")
    assert start_of_local_day(d("2027-03-28")) == utc("2027-03-28T00:00:00")
    assert start_of_local_day(d("2027-11-01")) == utc("2027-11-01T00:00:00")
