"""What each task type's ``payload`` holds (docs/agent-protocol.md "Task types"): checked by the
appliance when it enqueues a task and by the agent before it acts on one, so neither side
acts on a payload the other would not have sent.

A payload is a JSON object with exactly the members its type lists; the types are strings
(bounded, some with a pattern), integers (ranges) and booleans. Facts a result carries are
described in the docs; they are data for the appliance, not checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kit.agentproto.errors import BadMessage
from kit.agentproto.messages import TASK_TYPES

PROJECT = r"^[a-z0-9][a-z0-9_-]{0,62}$"        # a Compose project name
REGISTRY = r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$"
PATH = r"^/[\x21-\x7e]{0,255}$"
HOST = r"^[A-Za-z0-9.:-]{1,253}$"
LOCK_MAX = 96 * 1024

# member → (kind, required, limit or pattern)
_Spec = tuple[str, bool, Any]
PAYLOADS: dict[str, dict[str, _Spec]] = {
    "inspect": {"project": ("string", True, PROJECT)},
    "drift": {"project": ("string", True, PROJECT)},
    "health": {"port": ("port", True, None), "path": ("string", False, PATH), "host": ("string", False, HOST),
               "timeout": ("seconds", False, None)},
    "sticker-read": {"project": ("string", True, PROJECT)},
    "sticker-write": {"project": ("string", True, PROJECT), "sticker": ("text", True, 64 * 1024)},
    "deploy": {"project": ("string", True, PROJECT), "lock": ("text", True, LOCK_MAX),
               "registry": ("string", False, REGISTRY), "envFile": ("string", False, r"^[A-Za-z0-9._/-]{1,255}$"),
               "timeout": ("seconds", False, None)},
    "rollback": {"project": ("string", True, PROJECT), "lock": ("text", True, LOCK_MAX),
                 "registry": ("string", False, REGISTRY), "envFile": ("string", False, r"^[A-Za-z0-9._/-]{1,255}$"),
                 "timeout": ("seconds", False, None)},
    # a failed first deploy undone: the project's containers stopped and removed, its sticker volume too
    "remove": {"project": ("string", True, PROJECT), "timeout": ("seconds", False, None)},
}
assert set(PAYLOADS) == set(TASK_TYPES)
REPEATABLE = frozenset({"inspect", "drift", "health", "sticker-read"})   # safe to run twice: they only read


def check_payload(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """*payload* when it is what a task of *kind* takes.

    Raises:
        BadMessage: an unknown type, an unknown or missing member, a wrong type or value.
    """
    spec = PAYLOADS.get(kind)
    if spec is None:
        raise BadMessage(f"task type {kind[:40]!r} is not one of {', '.join(TASK_TYPES)}")
    where = f"{kind} payload"
    unknown = sorted(str(k) for k in payload if k not in spec)
    if unknown:
        raise BadMessage(f"{where}: unknown member {unknown[0][:60]!r}")
    for key, (typ, required, rule) in spec.items():
        if key not in payload:
            if required:
                raise BadMessage(f"{where}: missing member {key!r}")
            continue
        value = payload[key]
        if typ in ("port", "seconds"):
            top = 65535 if typ == "port" else 3600
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
                raise BadMessage(f"{where}.{key}: an integer from 1 to {top}")
        elif not isinstance(value, str):
            raise BadMessage(f"{where}.{key}: must be a string")
        elif typ == "text":
            if len(value.encode()) > rule:
                raise BadMessage(f"{where}.{key}: over {rule} bytes")
        elif not re.fullmatch(rule, value):
            raise BadMessage(f"{where}.{key}: {value[:60]!r} does not match {rule}")
    return dict(payload)
