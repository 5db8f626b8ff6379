"""Times in documents: RFC 3339, UTC, whole seconds, always written ``YYYY-MM-DDTHH:MM:SSZ``.

The clock is always passed in (``at``) rather than read deep inside checks, so expiry
and history checks are testable and auditors can ask "was this valid then?".
"""

from __future__ import annotations

import datetime as dt
import os
import re

UTC = dt.UTC
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TimeFormatError(ValueError):
    """A time value is not an RFC 3339 timestamp (or a plain date)."""


def parse_time(value: object) -> dt.datetime:
    """Parse an RFC 3339 timestamp, a ``YYYY-MM-DD`` date (midnight UTC) or a datetime.

    Naive values are taken as UTC. Fractions of seconds are dropped: documents carry
    whole seconds so the same instant always prints the same way.

    Raises:
        TimeFormatError: the value is not a timestamp.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if _DATE_ONLY.match(text):
            text += "T00:00:00Z"
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise TimeFormatError(f"not an RFC 3339 time: {value!r}") from None
    else:
        raise TimeFormatError(f"not a time: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def format_time(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return parse_time(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def epoch_seconds(moment: dt.datetime) -> int:
    return int(parse_time(moment).timestamp())


def from_epoch(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), UTC)


def source_date_epoch() -> dt.datetime | None:
    """The time set by ``SOURCE_DATE_EPOCH`` (reproducible-builds.org), if any.

    Raises:
        TimeFormatError: the variable is set but is not an integer.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw.strip() == "":
        return None
    if not raw.strip().isdigit():
        raise TimeFormatError(f"SOURCE_DATE_EPOCH must be an integer, got {raw!r}")
    return from_epoch(int(raw.strip()))
