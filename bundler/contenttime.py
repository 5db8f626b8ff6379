"""Times of what a kit carries come from the content, not from the build (docs/adr/0009).

An image's SBOMs are dated by the image's own creation time (its OCI config's
``created``), and a release document by the newest of its images' times, so an image or a
release that did not change between two kits gives byte-identical entries, and a delta kit
inherits them instead of carrying them again. The kit's ``created`` is the fallback when an
image says nothing usable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from kit.timeutil import TimeFormatError, parse_time

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def image_time(created: str | None, fallback: dt.datetime) -> dt.datetime:
    """An image's creation time, UTC, whole seconds; *fallback* (the kit's ``created``)
    when the config has none, or one that is not RFC 3339, before 1970 or after *fallback*.

    Args:
        created: the image config's ``created`` as written (Go writes nanoseconds and an offset).
        fallback: the kit's ``created``.

    Returns:
        The time to write in the image's SBOMs.
    """
    fallback = parse_time(fallback)
    if created is None:
        return fallback
    try:
        moment = parse_time(created)
    except (TimeFormatError, OverflowError):  # an offset can push year 1 or 9999 out of range
        return fallback
    return moment if EPOCH <= moment <= fallback else fallback


def newest(times: Iterable[dt.datetime], fallback: dt.datetime) -> dt.datetime:
    """The latest of *times* (a release's image times), *fallback* when there are none.

    Args:
        times: the times of a release's images, each from :func:`image_time`.
        fallback: the kit's ``created``.

    Returns:
        The time to write in the release document.
    """
    return max(times, default=parse_time(fallback))
