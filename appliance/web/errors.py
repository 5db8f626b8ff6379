"""Errors to HTTP responses, in one place: the error's class decides the status.

The envelope is ``{"error": {"kind": KIND, "message": MESSAGE}}`` with the same kind the
CLI prints. Statuses (docs/api.md): 400 malformed or a bad request, 401 not
authenticated or a failed login, 403 forbidden (a role, separation of duties, CSRF),
404 an unknown name, 409 a conflict (state, duplicate, a running deploy), 422 refused by
a gate or a check, 429 too many failed logins, 503 an engine, registry or disk that does
not answer.
"""

from __future__ import annotations

from typing import Any

from appliance.errors import LoginFailed, NotFound, RateLimited
from appliance.promotions.errors import MissingRole, SeparationOfDuties
from kit.errors import Conflict, IOFailure, Malformed, Refused, StellaError, Usage


class HTTPProblem(Exception):
    """A refusal that only the HTTP face has (authentication, CSRF, a bad request body)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


FORBIDDEN: tuple[type[StellaError], ...] = (MissingRole, SeparationOfDuties)


def status_for(error: StellaError) -> int:
    if isinstance(error, LoginFailed):
        return 401
    if isinstance(error, RateLimited):
        return 429
    if isinstance(error, FORBIDDEN):
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Usage):
        return 400
    if isinstance(error, Malformed):
        return 400
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, Refused):
        return 422
    if isinstance(error, IOFailure):
        return 503
    return 500


def envelope(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"kind": kind, "message": message, **extra}}


def for_error(error: StellaError) -> tuple[int, dict[str, Any]]:
    """The status and envelope of an appliance error (the message as the CLI prints it)."""
    return status_for(error), envelope(error.kind, error.detail())
