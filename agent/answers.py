"""Reading the appliance's answers: bounded bodies, refusals turned back into their errors.

Shared by registration (plain HTTPS, a token) and the mutual-TLS channel (poll, result, renew).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from kit.agentproto import MAX_BODY, BadMessage
from kit.errors import KitError, KitIOError, StellaError, cut


def read_bounded(response: httpx.Response, what: str) -> bytes:
    """The body of a streamed *response*, refused past MAX_BODY bytes (BadMessage naming *what*)."""
    buffer = bytearray()
    for chunk in response.iter_bytes():
        buffer += chunk
        if len(buffer) > MAX_BODY:
            raise BadMessage(f"{what}: over {MAX_BODY} bytes")
    return bytes(buffer)


def refusal(status: int, raw: bytes, kinds: Mapping[str, type[KitError]]) -> StellaError:
    """The appliance's refusal as the error of its kind (exit code included) when *kinds* knows it,
    else an I/O error naming the status."""
    try:
        error = json.loads(raw)["error"]
        kind, message = str(error["kind"]), cut(str(error["message"]), 400)
    except (ValueError, KeyError, TypeError):
        return KitIOError(f"the appliance answered HTTP {status} without an error envelope")
    cls = kinds.get(kind)
    if cls is None:
        return KitIOError(f"the appliance answered HTTP {status}: {cut(kind, 60)}: {message}")
    return cls(f"the appliance refused: {message}")
