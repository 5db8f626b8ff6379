"""The agent channel's timings (docs/agent-protocol.md "Heartbeats"), read from the environment so
tests and operators can shorten them; each read is checked and falls back to its default.

    STELLA_AGENT_INTERVAL  10 s   an idle agent's poll is held this long at most: it heartbeats at least this often
    STELLA_AGENT_GRACE     3 × interval (30 s)   no heartbeat within it: the agent is ``down``
    STELLA_AGENT_LEASE     60 s   a lease lives this long; each heartbeat naming it extends it by as much
"""

from __future__ import annotations

import datetime as dt
import os

INTERVAL = 10.0
LEASE = 60.0
LIMITS = (0.05, 3600.0)      # seconds: below, a busy loop; above, an agent down for an hour is still "ready"


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if LIMITS[0] <= value <= LIMITS[1] else default


def interval() -> dt.timedelta:
    return dt.timedelta(seconds=_seconds("STELLA_AGENT_INTERVAL", INTERVAL))


def grace() -> dt.timedelta:
    return dt.timedelta(seconds=_seconds("STELLA_AGENT_GRACE", 3 * interval().total_seconds()))


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=_seconds("STELLA_AGENT_LEASE", LEASE))
