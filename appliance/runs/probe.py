"""A health probe: poll one host's port over HTTP or TCP until success, failure or the deadline.

Used by the ``health`` step and by a ``deploy`` step's ``health`` (after each batch of a
rolling or canary rollout). Only the standard library (``http.client``, ``socket``); only
the host it is given is dialled. Every answer is hostile: the body is read up to 64 KiB
within the attempt's time, a bad status line or header is that attempt's error, and nothing
a server sends can raise out of :func:`probe` (docs/workflows.md "Probe expressions").
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from appliance.deploy.targets import Target
from kit.gates.freeze import parse_duration
from kit.workflow import probeexpr

BODY_LIMIT = probeexpr.BODY_LIMIT        # bytes read of a response's body
ATTEMPT_TIMEOUT = 10.0                   # seconds, at most, of one attempt
MIN_TIMEOUT = 0.05
SHOWN_BODY = 4096                        # characters of the body kept in to_dict()
DEFAULT_INTERVAL = 30.0
DEFAULT_DEADLINE = 300.0


@dataclass(frozen=True)
class ProbeSpec:
    kind: Literal["http", "tcp"]
    port: int
    path: str = "/"
    success: str | None = None           # successExpression (None: 2xx or 3xx)
    failure: str | None = None           # failureExpression (None: never fails early)
    interval: float = DEFAULT_INTERVAL
    deadline: float = DEFAULT_DEADLINE

    def to_dict(self) -> dict[str, Any]:
        """For records and evidence (canonical JSON: times as whole milliseconds)."""
        return {"probe": self.kind, "port": self.port, "path": self.path, "successExpression": self.success,
                "failureExpression": self.failure, "intervalMs": round(self.interval * 1000),
                "deadlineMs": round(self.deadline * 1000)}


def spec_from_settings(settings: Mapping[str, Any]) -> ProbeSpec:
    """The probe of a ``health`` step's ``with`` (or of a ``deploy`` step's ``health``), as
    validated by kit/workflow/validate.py: ``probe``, ``port``, ``path``,
    ``successExpression``, ``failureExpression``, ``interval``, ``deadline`` (durations).

    Raises:
        ValueError: settings a validated template cannot hold (a missing or bad kind or port,
            an expression that does not parse — :class:`kit.workflow.expr.ExprError` —, a bad duration).
    """
    kind = settings.get("probe")
    port = settings.get("port")
    if kind not in ("http", "tcp"):
        raise ValueError(f"probe must be http or tcp, not {kind!r}")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError(f"probe port must be 1-65535, not {port!r}")
    path = settings.get("path", "/")
    if not isinstance(path, str) or not path.startswith("/") or not path.isprintable() or " " in path:
        raise ValueError(f"probe path must start with / and hold no spaces or control characters: {path!r}")
    exprs = {key: settings.get(key) for key in ("successExpression", "failureExpression")}
    for key, text in exprs.items():
        if text is not None:
            if not isinstance(text, str):
                raise ValueError(f"{key} must be text")
            probeexpr.parse(text)                      # raises ExprError (a ValueError) naming the column
    return ProbeSpec("http" if kind == "http" else "tcp", port, path, exprs["successExpression"],
                     exprs["failureExpression"], _seconds(settings, "interval", DEFAULT_INTERVAL),
                     _seconds(settings, "deadline", DEFAULT_DEADLINE))


def _seconds(settings: Mapping[str, Any], key: str, default: float) -> float:
    text = settings.get(key)
    if text is None:
        return default
    try:
        return float(parse_duration(str(text)))
    except Exception as exc:    # KitFormatError: the caller passed settings no validated template holds
        raise ValueError(f"{key}: not a duration: {text!r}") from exc


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    status: int | None                   # the last HTTP status seen (None: tcp, or no answer)
    body: str                            # the last body seen (at most 64 KiB)
    attempts: int
    error: str | None                    # why it is not ok: the last thing seen, attempts, time
    elapsed_ms: int

    def to_dict(self) -> dict[str, Any]:
        """For step outputs and evidence: the body cut to 4096 characters (``bodyTruncated``)."""
        return {"ok": self.ok, "status": self.status, "body": self.body[:SHOWN_BODY],
                "bodyTruncated": len(self.body) > SHOWN_BODY, "attempts": self.attempts, "error": self.error,
                "elapsedMs": self.elapsed_ms}


def host_of(target: Target) -> str:
    """The address a probe of *target* dials: 127.0.0.1 for an engine on a unix socket,
    the host of ``tcp://host:port`` (or ``ssh://user@host``) otherwise."""
    url = urlsplit(target.docker)
    if url.scheme == "unix" or not url.hostname:
        return "127.0.0.1"
    return url.hostname


@dataclass(frozen=True)
class _Seen:
    """One attempt: an answer (status, body) or the error that stood in for one."""

    status: int | None = None
    body: str = ""
    error: str | None = None


def probe(host: str, spec: ProbeSpec, *, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> ProbeResult:
    """Poll *host* every ``spec.interval`` seconds until success, failure or ``spec.deadline``.

    http succeeds when the success expression holds for a response (default
    ``status >= 200 && status < 400``) and stops at once, not ok, when the failure expression
    holds; tcp succeeds when a connection is accepted. Never raises for what the network or the
    server does: that is the result's ``error``.
    """
    success = probeexpr.parse(spec.success or probeexpr.DEFAULT_SUCCESS)
    failure = probeexpr.parse(spec.failure) if spec.failure else None
    started = clock()
    attempts = 0
    where = f"[{host}]:{spec.port}" if ":" in host else f"{host}:{spec.port}"
    while True:
        attempts += 1
        timeout = max(MIN_TIMEOUT, min(spec.interval, ATTEMPT_TIMEOUT))
        seen = _http(host, spec, timeout) if spec.kind == "http" else _tcp(host, spec.port, timeout)
        elapsed = clock() - started
        verdict = _judge(seen, spec, success, failure)
        if verdict is not None:
            ok, why = verdict
            error = None if ok else f"{why} on {where}{spec.path} (attempt {attempts})"
            return _result(ok, seen, attempts, error, elapsed)
        left = spec.deadline - elapsed
        if left <= 0:
            last = seen.error or (f"status {seen.status} on {where}{spec.path} (successExpression "
                                  f"`{spec.success or probeexpr.DEFAULT_SUCCESS}` does not hold)")
            if seen.error:
                last += f" on {where}"
            plural = "s" if attempts != 1 else ""
            return _result(False, seen, attempts, f"{last} after {attempts} attempt{plural} in {round(elapsed, 1):g} s",
                           elapsed)
        sleep(min(spec.interval, left))


def _judge(seen: _Seen, spec: ProbeSpec, success: probeexpr.Node,
           failure: probeexpr.Node | None) -> tuple[bool, str] | None:
    """(ok, why) when this attempt ends the probe, None to try again."""
    if seen.error is None and seen.status is None:
        return True, ""                                            # tcp: accepted
    if seen.status is None:
        return None
    if failure is not None and probeexpr.holds(failure, seen.status, seen.body):
        return False, f"failureExpression `{spec.failure}` holds: status {seen.status}"
    if probeexpr.holds(success, seen.status, seen.body):
        return True, ""
    return None


def _result(ok: bool, seen: _Seen, attempts: int, error: str | None, elapsed: float) -> ProbeResult:
    return ProbeResult(ok, seen.status, seen.body, attempts, error, int(elapsed * 1000))


def _tcp(host: str, port: int, timeout: float) -> _Seen:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return _Seen()
    except OSError as exc:
        return _Seen(error=_network_error(exc, timeout))


def _http(host: str, spec: ProbeSpec, timeout: float) -> _Seen:
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, spec.port, timeout=timeout)
    try:
        conn.request("GET", spec.path, headers={"Connection": "close", "User-Agent": "stella-probe",
                                                "Accept": "*/*"})
        resp = conn.getresponse()
        body = _read_body(resp, started, timeout)
        return _Seen(resp.status, body.decode("utf-8", errors="replace"))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return _Seen(error=_network_error(exc, timeout))
    finally:
        conn.close()


def _read_body(resp: http.client.HTTPResponse, started: float, timeout: float) -> bytes:
    """At most 64 KiB, within the attempt's time: a server trickling bytes cannot hold the
    probe longer than one timeout (what arrived by then is the body)."""
    chunks: list[bytes] = []
    size = 0
    while size < BODY_LIMIT and time.monotonic() - started < timeout:
        chunk = resp.read1(min(16384, BODY_LIMIT - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _network_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, http.client.HTTPException):      # before OSError: RemoteDisconnected is both
        return f"bad HTTP answer ({type(exc).__name__}: {str(exc)[:120]})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
