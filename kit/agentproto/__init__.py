"""The agent protocol, defined once for the appliance and ``stella-agent`` (docs/agent-protocol.md).

Pure: messages and their checks, no I/O. The appliance's endpoints and the agent's client
both build and read these classes only.
"""

from __future__ import annotations

from kit.agentproto.errors import AgentExists, AlreadyRegistered, BadCSR, BadMessage, CAMismatch, TokenRefused
from kit.agentproto.messages import (
    MAX_BODY,
    MESSAGES,
    NAME,
    PROTOCOL,
    Heartbeat,
    Message,
    RegisterAnswer,
    RegisterRequest,
    TaskLease,
    TaskResult,
)

__all__ = ["MAX_BODY", "MESSAGES", "NAME", "PROTOCOL", "AgentExists", "AlreadyRegistered", "BadCSR", "BadMessage",
           "CAMismatch", "Heartbeat", "Message", "RegisterAnswer", "RegisterRequest", "TaskLease", "TaskResult",
           "TokenRefused"]
