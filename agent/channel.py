"""The agent's side of the mutual-TLS channel (docs/agent-protocol.md "Endpoints"): one HTTPS client
that presents the agent's certificate and trusts only the agent CA pinned at registration.

Every answer is read up to MAX_BODY bytes and parsed by kit.agentproto; a refusal comes back
as the error of the kind the appliance named (``certificate-refused`` when revoked, …), a
transport failure as ``io-error``.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from types import TracebackType

import httpx

from agent.answers import read_bounded, refusal
from kit.agentproto import BadCSR, BadMessage, Heartbeat, TaskLease, TaskResult
from kit.agentproto.errors import CertificateRefused, LeaseRefused
from kit.agentproto.messages import RenewAnswer, RenewRequest
from kit.errors import KitError, KitIOError, UnknownVersion, cut

PREFIX = "/agent/v1"
KINDS: dict[str, type[KitError]] = {c.kind: c for c in (CertificateRefused, LeaseRefused, BadMessage, BadCSR,
                                                        UnknownVersion)}


class Channel:
    """An mTLS client for one appliance: ``poll``, ``result``, ``renew``."""

    def __init__(self, url: str, state_dir: Path, timeout: float) -> None:
        ctx = ssl.create_default_context(cafile=str(state_dir / "ca.pem"))     # the pinned CA, nothing else
        ctx.load_cert_chain(str(state_dir / "cert.pem"), str(state_dir / "key.pem"))
        self.url = url
        self._client = httpx.Client(base_url=url, verify=ctx, timeout=timeout, follow_redirects=False)

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            with self._client.stream("POST", PREFIX + path, content=body,
                                     headers={"content-type": "application/json"}) as response:
                raw = read_bounded(response, f"{path} answer")
                status = response.status_code
        except httpx.HTTPError as exc:
            raise KitIOError(f"cannot reach the appliance at {self.url}: "
                             f"{cut(str(exc), 200) or type(exc).__name__}") from None
        if status >= 300:
            raise refusal(status, raw, KINDS)
        return status, raw

    def poll(self, heartbeat: Heartbeat) -> TaskLease | None:
        """Send a heartbeat; the lease of a task the appliance hands out, or None."""
        status, raw = self._post("/poll", heartbeat.to_json())
        return TaskLease.from_json(raw) if status == 200 else None

    def result(self, result: TaskResult) -> None:
        self._post("/result", result.to_json())

    def renew(self, request: RenewRequest) -> RenewAnswer:
        _status, raw = self._post("/renew", request.to_json())
        return RenewAnswer.from_json(raw)

