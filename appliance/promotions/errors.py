"""Errors of release orchestration, mapped to exit codes by clisupport (docs/cli.md).

Refused by a check (1): a gate blocks, a role is missing, separation of duties, a second
approval. Usage (2): an unknown release, environment, user or promotion. Conflict (5):
the promotion is not in a state that allows the transition.
"""

from __future__ import annotations

from kit import exitcodes
from kit.errors import KitError, KitVerificationError


class OrchestrationRefused(KitVerificationError):
    kind = "refused"


class NotFound(KitError):
    kind = "not-found"
    exit_code = exitcodes.USAGE


class StateConflict(KitError):
    kind = "state-conflict"
    exit_code = exitcodes.CONFLICT
