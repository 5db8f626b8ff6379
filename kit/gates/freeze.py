"""Gate 2, freeze windows: RFC 5545 recurrence rules in a time zone, and stop-the-line.

A window is ``{id, rrule, dtstart, duration, tz, reason}``: occurrences start at the
local (wall-clock) times the rule yields from ``dtstart`` (local, no offset) in ``tz``
(IANA name), and last ``duration`` seconds of **wall-clock** time, so a weekend freeze
"Friday 16:00 for 64 h" ends Monday 08:00 local even across a DST change (63 or 65 h
elapsed). A start that falls in a DST gap takes the offset before the gap (zoneinfo
``fold=0``). Without ``rrule`` a window is one occurrence at ``dtstart``. Site-wide
stop-the-line blocks every promotion while it is set.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulebase, rrulestr

from kit.errors import BadDuration, BadRrule, BadTimezone, BadWindow
from kit.gates.model import FAIL, PASS, GateResult
from kit.timeutil import format_time, parse_time

NAME = "freeze"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_MARGIN = dt.timedelta(hours=3)          # covers any DST shift between wall and UTC


MAX_DURATION = 3650 * 86400      # ten years: beyond that, datetime arithmetic overflows


def parse_duration(text: str) -> int:
    """``64h``, ``2d``, ``1h30m``, ``90s`` → seconds (KitFormatError otherwise)."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise BadDuration(f"not a duration: {text!r} (use e.g. 64h, 2d, 1h30m)")
    d, h, m, s = (int(g or 0) for g in match.groups())
    seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds > MAX_DURATION:
        raise BadDuration(f"duration {text!r} is longer than {MAX_DURATION // 86400} days")
    return seconds


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTimezone(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def _local(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadWindow(f"not a local date-time: {text!r}") from None
    return moment.replace(tzinfo=None, microsecond=0)


def rule_of(window: Mapping[str, Any]) -> rrulebase | None:
    """The parsed recurrence (None for a one-off window); KitFormatError when invalid.

    An ``rrule`` for one rule; an ``rruleset`` when the text adds EXDATE/RDATE lines.
    """
    text = window.get("rrule")
    if not text:
        return None
    body = str(text).removeprefix("RRULE:")
    try:
        return rrulestr(body, dtstart=_local(window["dtstart"]))
    except (ValueError, TypeError) as exc:
        raise BadRrule(f"not an RFC 5545 rule: {text!r} ({exc})") from None


def check_window(window: Mapping[str, Any]) -> None:
    """Validate a window's fields (used when it is created and before evaluation)."""
    zone(str(window.get("tz", "")))
    start = _local(str(window.get("dtstart", "")))
    if not isinstance(window.get("duration"), int) or not 0 < window["duration"] <= MAX_DURATION:
        raise BadWindow("a freeze window needs a positive duration of at most ten years")
    if not dt.datetime(1970, 1, 2) <= start <= dt.datetime(9000, 1, 1):
        raise BadWindow(f"freeze window start {start.isoformat()} is out of range")
    rule_of(window)


def _span(start_local: dt.datetime, window: Mapping[str, Any], tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    end_local = start_local + dt.timedelta(seconds=window["duration"])
    return start_local.replace(tzinfo=tz), end_local.replace(tzinfo=tz)


def active_occurrence(window: Mapping[str, Any], at: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """(start, end) of the occurrence of *window* covering *at*, if any."""
    tz = zone(window["tz"])
    rule = rule_of(window)
    here = at.astimezone(tz).replace(tzinfo=None)
    lo = here - dt.timedelta(seconds=window["duration"]) - _MARGIN
    starts = rule.between(lo, here + _MARGIN, inc=True) if rule else [_local(window["dtstart"])]
    for start in starts:
        begin, end = _span(start, window, tz)
        if begin <= at < end:
            return begin, end
    return None


def next_start(window: Mapping[str, Any], at: dt.datetime) -> str | None:
    tz = zone(window["tz"])
    rule = rule_of(window)
    here = at.astimezone(tz).replace(tzinfo=None)
    start = rule.after(here) if rule else _local(window["dtstart"])
    if start is None or start.replace(tzinfo=tz) <= at:
        return None
    return format_time(start.replace(tzinfo=tz))


def evaluate(inputs: Mapping[str, Any]) -> GateResult:
    env = inputs["environment"]
    at = parse_time(inputs["time"]["evaluatedAt"])
    stop = env.get("stopTheLine")
    if stop:
        return GateResult(NAME, FAIL, f"stop-the-line since {stop.get('at')} by {stop.get('by')}: {stop.get('reason')}",
                          {"stopTheLine": stop})
    windows = sorted(env["freezeWindows"], key=lambda w: str(w.get("id")))
    upcoming = []
    for window in windows:
        check_window(window)
        span = active_occurrence(window, at)
        if span is not None:
            return GateResult(NAME, FAIL, f"environment {env['name']} is frozen by {window.get('id')} "
                                          f"({window.get('reason')}) until {format_time(span[1])}",
                              {"window": dict(window), "start": format_time(span[0]), "end": format_time(span[1])})
        upcoming.append({"id": window.get("id"), "nextStart": next_start(window, at)})
    reason = f"no freeze window of {env['name']} is active" if windows else f"{env['name']} has no freeze windows"
    return GateResult(NAME, PASS, reason, {"windows": upcoming})
