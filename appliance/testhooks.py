"""Crash-test hook: ``STELLA_TEST_PAUSE_AT=POINT`` makes an import stop at POINT.

At the named point the process writes ``stella-test-pause: POINT`` to stderr and sleeps,
so a test can kill -9 it exactly there. Unset (always, in production) it costs one dict
lookup per point.
"""

from __future__ import annotations

import os
import sys
import time


def pause(point: str) -> None:
    if os.environ.get("STELLA_TEST_PAUSE_AT") != point:
        return
    sys.stderr.write(f"stella-test-pause: {point}\n")
    sys.stderr.flush()
    time.sleep(float(os.environ.get("STELLA_TEST_PAUSE_SECONDS", "60")))
