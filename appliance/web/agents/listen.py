"""The agent listener's TLS (docs/adr/0013-agent-listener.md): a server certificate from the agent CA,
client certificates verified against that CA, and the verified certificate handed to the routes.

The context asks for a client certificate and refuses the handshake when one is offered that
does not chain to the agent CA (``CERT_OPTIONAL`` verifies what is presented); a connection
without one is let through so that ``POST /agent/v1/register`` — the only route that takes
none — can be served here too. Every other route refuses a call without a certificate.

Uvicorn does not put the peer certificate in the ASGI scope, so the HTTP protocol below
reads it from the TLS transport when the connection is made and adds it to the scope's
``state`` (what a route reads as ``request.state``), once per connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

PEER = "stella_agent_peer_der"      # the key in request.state: the client certificate's DER, or None


class PeerCertProtocol(H11Protocol):
    """uvicorn's h11 protocol, with the verified client certificate in every request's state."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # a copy for this connection: app_state is shared by every connection of the server
        self.app_state = {**self.app_state, PEER: der}


def peer_der(state: Any) -> bytes | None:
    """The client certificate's DER from ``request.state`` (None without one, or off the agent listener)."""
    found = getattr(state, PEER, None)
    return found if isinstance(found, bytes) else None


def context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    ctx.load_verify_locations(cafile=str(ca))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def hosts_for(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The names the listener's certificate carries: the listen host, or — for a wildcard address
    — this machine's host name, localhost and every address of its interfaces; then *extra*
    (``--agent-host``: a name agents use that the machine does not know itself by)."""
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    base = [socket.gethostname(), "localhost", *local_addresses()] if wildcard else [host]
    return tuple(dict.fromkeys([*base, *extra]))


def local_addresses() -> list[str]:
    """This machine's IPv4 and IPv6 addresses, from /proc (no interface library on the appliance)."""
    found = ["127.0.0.1", "::1"]
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        for before, line in zip(lines, lines[1:], strict=False):
            if "/32 host LOCAL" in line and "--" in before:
                found.append(before.split("--", 1)[1].strip())
    except OSError:
        pass
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            address = ipaddress.IPv6Address(int(raw, 16))
            if not address.is_link_local:
                found.append(str(address))
    except (OSError, ValueError, IndexError):
        pass
    return list(dict.fromkeys(found))
