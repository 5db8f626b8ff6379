"""Freeze windows: RFC 5545 rules in a time zone, across DST transitions."""

from __future__ import annotations

import datetime as dt

import pytest

from kit.errors import KitFormatError
from kit.gates.freeze import active_occurrence, check_window, parse_duration

UTC = dt.UTC
WEEKEND = {"id": "F-1", "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16", "dtstart": "2026-01-01T00:00:00",
           "duration": 64 * 3600, "tz": "Europe/Berlin", "reason": "weekend"}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize("moment, frozen", [
    ("2026-03-13T15:59:59+01:00", False),   # Friday before 16:00 CET
    ("2026-03-13T16:00:00+01:00", True),
    ("2026-03-16T07:59:59+01:00", True),    # Monday 07:59 CET
    ("2026-03-16T08:00:00+01:00", False),   # 64 h after Fri 16:00
    # DST starts Sunday 29 March 2026 (02:00 CET → 03:00 CEST): wall-clock 64 h ends Mon 08:00 CEST
    ("2026-03-27T16:00:00+01:00", True),
    ("2026-03-30T07:59:59+02:00", True),
    ("2026-03-30T08:00:00+02:00", False),   # only 63 h elapsed
    # DST ends Sunday 25 October 2026 (03:00 CEST → 02:00 CET): ends Mon 08:00 CET, 65 h elapsed
    ("2026-10-23T16:00:00+02:00", True),
    ("2026-10-26T07:59:59+01:00", True),
    ("2026-10-26T08:00:00+01:00", False),
    ("2026-10-21T12:00:00+02:00", False),   # a Wednesday
])
def test_weekend_freeze_across_dst(moment: str, frozen: bool) -> None:
    assert (active_occurrence(WEEKEND, at(moment)) is not None) is frozen


def test_occurrence_reports_local_bounds() -> None:
    start, end = active_occurrence(WEEKEND, at("2026-03-28T12:00:00+01:00"))
    assert start == at("2026-03-27T16:00:00+01:00") and end == at("2026-03-30T08:00:00+02:00")
    assert end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(hours=63)


def test_start_in_dst_gap_is_taken_before_the_gap() -> None:
    daily = {**WEEKEND, "rrule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "duration": 7200}
    # 02:30 does not exist on 29 March in Berlin; fold=0 reads it with the CET offset (01:30 UTC)
    start, end = active_occurrence(daily, at("2026-03-29T01:45:00+00:00"))
    assert start.astimezone(UTC) == at("2026-03-29T01:30:00+00:00")
    assert end.astimezone(UTC) == at("2026-03-29T02:30:00+00:00")


def test_one_off_window_and_bad_input() -> None:
    once = {"id": "F-2", "rrule": None, "dtstart": "2026-12-24T00:00:00", "duration": 48 * 3600,
            "tz": "America/New_York", "reason": "holidays"}
    assert active_occurrence(once, at("2026-12-25T12:00:00-05:00"))
    assert not active_occurrence(once, at("2026-12-26T00:00:00-05:00"))
    assert parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800
    for bad in ({**WEEKEND, "tz": "Mars/Olympus"}, {**WEEKEND, "rrule": "FREQ=SOMETIMES"},
                {**WEEKEND, "duration": 0}):
        with pytest.raises(KitFormatError):
            check_window(bad)
    with pytest.raises(KitFormatError, match="not a duration"):
        parse_duration("soon")
