"""Answering a registry's ``WWW-Authenticate`` challenge: Basic, or a Bearer token exchange."""

from __future__ import annotations

import base64
import re

import httpx

from bundler.oci.credentials import Credentials
from bundler.oci.errors import AuthError

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split ``Bearer realm="…",service="…"`` into the scheme and its parameters."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def basic_header(creds: Credentials) -> str:
    """The ``Authorization`` value for HTTP basic auth."""
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    return f"Basic {token}"


def authorization_for(client: httpx.Client, challenge: str, creds: Credentials | None,
                      scope: str, image: str) -> str:
    """The ``Authorization`` header that answers *challenge* for *scope*.

    Raises:
        AuthError: Basic is asked but we have no credentials, the token endpoint refuses
            us, or the challenge scheme is unknown.
    """
    scheme, params = parse_challenge(challenge)
    if scheme == "basic":
        if creds is None:
            raise AuthError(f"image {image}: registry wants basic auth and no credentials are "
                            "configured", entry=image)
        return basic_header(creds)
    if scheme != "bearer" or "realm" not in params:
        raise AuthError(f"image {image}: unsupported auth challenge {challenge!r}", entry=image)
    query = {"scope": scope}
    if "service" in params:
        query["service"] = params["service"]
    headers = {"Authorization": basic_header(creds)} if creds else {}
    try:
        resp = client.get(params["realm"], params=query, headers=headers)
    except httpx.HTTPError as exc:
        raise AuthError(f"image {image}: token endpoint {params['realm']} failed: {exc}",
                        entry=image) from exc
    if resp.status_code != 200:
        raise AuthError(f"image {image}: token endpoint refused us (HTTP {resp.status_code})",
                        entry=image)
    try:
        body = resp.json()
        token = body.get("token") or body.get("access_token")
    except ValueError:
        token = None
    if not isinstance(token, str) or not token:
        raise AuthError(f"image {image}: token endpoint returned no token", entry=image)
    return f"Bearer {token}"
