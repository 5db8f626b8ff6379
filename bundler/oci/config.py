"""Registry settings and limits: which URL, plain HTTP or not, and whose credentials.

Keys of a ``registries:`` mapping (in kit.yaml or ``registries_from_dict``)::

    registries:
      127.0.0.1:5055:
        url: http://127.0.0.1:5055   # optional; the only URL used (default: see below)
        insecure: true               # plain HTTP only, no HTTPS try; refused for non-loopback hosts
        username: ci                 # optional basic-auth user ...
        password_env: REG_PASSWORD   # ... and the environment variable holding the password
        ca_file: /etc/ssl/my-ca.pem  # optional extra CA bundle for https

Hosts without an entry use https and, for credentials, the Docker config file; a loopback
host (``kit.registryhost.plain_http_by_default``: 127.0.0.0/8, ::1, ``localhost``) is tried
over https first and then over plain http, as Docker and go-containerregistry do, so it
needs no ``insecure``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bundler.oci.credentials import Credentials, docker_config_credentials
from bundler.oci.errors import BadRegistryConfig
from kit.registryhost import plain_http_by_default

_KEYS = {"url", "insecure", "username", "password", "password_env", "ca_file"}


@dataclass(frozen=True)
class Limits:
    """Upper bounds applied before anything untrusted is read into memory or onto disk."""

    max_manifest_bytes: int = 4 * 1024 * 1024
    max_config_bytes: int = 8 * 1024 * 1024
    max_blob_bytes: int = 32 * 1024 * 1024 * 1024
    max_image_bytes: int = 64 * 1024 * 1024 * 1024
    max_layers: int = 512
    max_index_entries: int = 1024
    # dockerd 20.10 cannot pull zstd layers, so by default a kit never carries them.
    allow_zstd: bool = False


@dataclass(frozen=True)
class RegistryConfig:
    """How to reach one registry host."""

    host: str
    url: str | None = None
    insecure: bool = False
    credentials: Credentials | None = field(default=None, repr=False)
    ca_file: str | None = None

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The ``scheme://host`` URLs to try, in order, with no trailing slash.

        ``url`` when set; ``http`` when ``insecure``; ``https`` then ``http`` for a loopback
        host (``plain_http_by_default``); otherwise ``https`` only.
        """
        if self.url:
            return (self.url.rstrip("/"),)
        if self.insecure:
            return (f"http://{self.host}",)
        if plain_http_by_default(self.host):
            return (f"https://{self.host}", f"http://{self.host}")
        return (f"https://{self.host}",)

    @property
    def base_url(self) -> str:
        """The first of ``base_urls``."""
        return self.base_urls[0]


def _entry(host: str, data: Mapping[str, Any]) -> RegistryConfig:
    if not isinstance(data, Mapping):
        raise BadRegistryConfig(f"registries.{host} must be a mapping", entry=host)
    unknown = set(data) - _KEYS
    if unknown:
        raise BadRegistryConfig(f"registries.{host}: unknown keys {sorted(unknown)}", entry=host)
    insecure = bool(data.get("insecure", False))
    if insecure and not plain_http_by_default(host):
        raise BadRegistryConfig(f"registries.{host}: insecure (plain HTTP) is only allowed for loopback "
                                "registries", entry=host)
    password = data.get("password")
    if data.get("password_env"):
        password = os.environ.get(str(data["password_env"]))
        if password is None:
            raise BadRegistryConfig(f"registries.{host}: environment variable {data['password_env']} "
                                    "is not set", entry=host)
    creds = Credentials(str(data["username"]), str(password or "")) if data.get("username") else None
    return RegistryConfig(host, data.get("url"), insecure, creds, data.get("ca_file"))


@dataclass(frozen=True)
class Registries:
    """All configured registries; ``get`` falls back to defaults plus Docker config auth."""

    entries: Mapping[str, RegistryConfig] = field(default_factory=dict)
    docker_config: str | None = None

    def get(self, host: str) -> RegistryConfig:
        """The settings for *host*, filling credentials from the Docker config if none."""
        cfg = self.entries.get(host) or RegistryConfig(host)
        if cfg.credentials is None:
            creds = docker_config_credentials(host, self.docker_config)
            if creds is not None:
                cfg = RegistryConfig(cfg.host, cfg.url, cfg.insecure, creds, cfg.ca_file)
        return cfg


def registries_from_dict(data: Mapping[str, Any] | None, *,
                         docker_config: str | None = None) -> Registries:
    """Build ``Registries`` from a ``registries:`` mapping (see the module docstring).

    Raises:
        OCIError: unknown keys, a missing password variable, or insecure on a non-loopback host.
    """
    entries = {str(host): _entry(str(host), body or {}) for host, body in (data or {}).items()}
    return Registries(entries, docker_config)
