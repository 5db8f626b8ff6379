"""Which registries are reached over plain HTTP without being told to: the loopback ones.

The one decision, shared by every side: ``plain_http_by_default(registry)``. The rule
is Docker's. dockerd treats ``127.0.0.0/8`` and ``::1/128`` as insecure registries by
default (moby ``registry/config.go``, ``loadInsecureRegistries``; the Engine API's
``RegistryServiceConfig.InsecureRegistryCIDRs``), matching the host part of
``host[:port]``, and it resolves names, so ``localhost`` counts. go-containerregistry's
``name.Registry.Scheme()`` likewise answers ``http`` for ``localhost:PORT``,
``127.0.0.1`` and ``::1``. Here that means:

- an IP literal in ``127.0.0.0/8`` or ``::1`` (IPv6 in brackets, ``[::1]:5000``; an
  IPv4-mapped ``::ffff:127.x.y.z`` too), with or without a port;
- the name ``localhost`` (any letter case), with or without a port.

Nothing is resolved (this package is pure), so another name that happens to resolve to a
loopback address is not recognised. Deliberately not copied from go-containerregistry:
its private ranges (10/8, 172.16/12, 192.168/16) and ``*.localhost`` names, which dockerd
does not treat as insecure by default, and its substring match, which also takes
``127.0.0.1.example.com`` for loopback.

What "plain HTTP by default" means to a client (both Docker and go-containerregistry do
this): HTTPS is tried first and plain HTTP is used when HTTPS gets no HTTP answer. Every
other registry is reached over HTTPS only unless its settings say otherwise.
"""

from __future__ import annotations

import ipaddress


def _hostname(registry: str) -> str | None:
    """The host part of ``host``, ``host:port`` or ``[v6]:port``; None when malformed."""
    if registry.startswith("["):
        host, sep, rest = registry[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return host
    if registry.count(":") == 1:
        host, port = registry.split(":")
        return host if port.isdigit() else None
    return registry               # no port, or an unbracketed IPv6 literal such as ::1


def plain_http_by_default(registry: str) -> bool:
    """True when *registry* (``host[:port]`` as in an image reference) is loopback: reached
    over plain HTTP, after HTTPS, without an explicit setting (see the module docstring).
    """
    host = _hostname(registry)
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback
