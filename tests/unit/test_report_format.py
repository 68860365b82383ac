"""Report tables as text, Markdown and CSV; the percentile and working-day arithmetic the reports use."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from api.report_format import render
from service.reports import InvalidReportRequest, WorkingDayCounts, calendar_month, nearest_rank, reporting_year
from workflow.calendar import WorkingCalendar

TSM = {
    "report": "tsm",
    "year": "2025/26",
    "period": {"from": "2025-04-01", "to": "2026-03-31"},
    "homes": 4000,
    "CH01": {"stage_1": {"received": 120, "per_1000_homes": 30.0}, "stage_2": {"received": 0, "per_1000_homes": 0.0}},
    "CH02": {
        "stage_1": {"responded": 100, "within_timescale": 87, "percent": 87.0},
        "stage_2": {"responded": 0, "within_timescale": 0, "percent": None},
    },
}


def test_text_tables_align_and_show_missing_values_as_a_dash() -> None:
    text = render(TSM, "text")
    assert "CH01 complaints received per 1,000 homes, 2025/26 (2025-04-01 to 2026-03-31)" in text
    line = next(row for row in text.splitlines() if row.startswith("CH02 stage 2"))
    assert line.split()[-1] == "-"


def test_markdown_has_one_pipe_table_per_measure() -> None:
    md = render(TSM, "md")
    assert md.count("### ") == 2
    assert "| CH02 stage 1 | 1 | 87 | 100 | 87 |" in md


def test_csv_names_its_table_in_the_first_cell() -> None:
    rows = list(csv.reader(io.StringIO(render(TSM, "csv"))))
    assert rows[0] == ["table", "measure", "stage", "received", "homes", "per 1,000 homes"]
    assert rows[1][0].startswith("CH01") and rows[1][3] == "120"
    assert rows[-1][-1] == ""  # no percentage without responses


def test_nearest_rank_percentiles_of_weighted_values() -> None:
    assert nearest_rank([(3, 1), (1, 1), (2, 1), (4, 1)], 50) == 2
    assert nearest_rank([(1, 9), (30, 1)], 90) == 1
    assert nearest_rank([(1, 9), (30, 2)], 90) == 30
    assert nearest_rank([], 50) is None


def test_working_day_counts_agree_with_the_calendar() -> None:
    calendar = WorkingCalendar()
    days = [date(2025, 12, 1) + timedelta(days=n) for n in range(0, 60, 3)]
    counts = WorkingDayCounts(calendar, days)
    for a in days:
        for b in days:
            assert counts.between(a, b) == calendar.working_days_between(a, b)


def test_periods_are_london_days() -> None:
    start, end = reporting_year(2025)
    assert (start.isoformat(), end.isoformat()) == ("2025-03-31T23:00:00+00:00", "2026-03-31T23:00:00+00:00")
    start, end = calendar_month("2025-12")
    assert (start.isoformat(), end.isoformat()) == ("2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")
    for bad in ("2025-00", "25-01", "2025-1", ""):
        with pytest.raises(InvalidReportRequest):
            calendar_month(bad)
