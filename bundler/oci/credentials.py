"""Credentials from the Docker config file (``$DOCKER_CONFIG/config.json`` or ``~/.docker``).

Only inline ``auths`` entries are read (``auth`` = base64 ``user:password``, or
``username``/``password``). Credential helpers (``credsStore``/``credHelpers``) are
not run: the bundler must not execute programs named by a config file.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bundler.oci.errors import AuthError
from kit.inputfile import read_file


@dataclass(frozen=True)
class Credentials:
    """A username and password for basic auth or a token exchange."""

    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"Credentials(username={self.username!r}, password=***)"


def docker_config_path(explicit: str | None = None) -> Path:
    """The Docker config file used: *explicit*, ``$DOCKER_CONFIG/config.json`` or ``~/.docker``."""
    if explicit:
        return Path(explicit)
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


@dataclass(frozen=True)
class AuthEntry:
    """One ``auths`` entry of a Docker config, parsed once; a field of the wrong JSON type
    counts as absent (as before typing: such entries never gave credentials)."""

    auth: str = ""                  # base64 ``user:password``; "" when absent
    username: str | None = None
    password: str = ""

    @classmethod
    def from_dict(cls, entry: dict[str, object]) -> AuthEntry:
        auth, username = entry.get("auth"), entry.get("username")
        return cls(auth=auth if isinstance(auth, str) else "",
                   username=username if isinstance(username, str) else None,
                   password=str(entry.get("password", "")))


def _lookup(auths: dict[str, object], host: str) -> dict[str, object] | None:
    for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v1/",
                f"https://{host}/v2/"):
        entry = auths.get(key)
        if isinstance(entry, dict):
            return entry
    if host == "docker.io":
        entry = auths.get("https://index.docker.io/v1/")
        return entry if isinstance(entry, dict) else None
    return None


def _auths(data: object, file: Path) -> dict[str, object]:
    """The config's ``auths`` object ({} when the file has none)."""
    auths = (data.get("auths") if isinstance(data, dict) else None) or {}
    if not isinstance(auths, dict):
        raise AuthError(f"Docker config {file}: auths is not an object", entry=str(file))
    return auths


def docker_config_credentials(host: str, path: str | None = None) -> Credentials | None:
    """Credentials for *host* from the Docker config file, or None if it has none.

    Raises:
        AuthError: the file exists but is not JSON, its ``auths`` is not an object, or its
            ``auth`` value is not base64.
        SpecialFile, InputTooLarge, KitIOError: the file is a FIFO or device, over the limit, or
            unreadable (kit.inputfile).
    """
    file = docker_config_path(path)
    if not file.exists() and not file.is_symlink():
        return None
    raw = read_file(file, "Docker config")     # bounded; a FIFO or device is refused by name, never read
    try:
        data: object = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise AuthError(f"Docker config {file} is not JSON: {str(exc)[:200]}", entry=str(file)) from None
    found = _lookup(_auths(data, file), host)
    if not found:
        return None
    entry = AuthEntry.from_dict(found)
    if entry.auth:
        try:
            user, _, password = base64.b64decode(entry.auth).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthError(f"Docker config {file}: auth for {host} is not base64 user:password",
                            entry=host) from exc
        return Credentials(user, password)
    if entry.username is not None:
        return Credentials(entry.username, entry.password)
    return None
