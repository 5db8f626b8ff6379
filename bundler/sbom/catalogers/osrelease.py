"""The distribution from ``etc/os-release`` (or ``usr/lib/os-release``)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from bundler.sbom.catalogers.base import text
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Distro

PATHS = ("etc/os-release", "usr/lib/os-release")


def parse_os_release(data: bytes) -> dict[str, str]:
    """KEY=VALUE lines, shell-quoted values unquoted; malformed lines are skipped."""
    out: dict[str, str] = {}
    for line in text(data).splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        try:
            parts = shlex.split(value)
        except ValueError:
            continue
        out[key] = parts[0] if parts else ""
    return out


def find_distro(files: Mapping[str, KeptFile]) -> Distro | None:
    """The distro of the image, or None if it has no os-release (e.g. distroless static)."""
    for path in PATHS:  # etc/ wins when it is a regular file; it is often a symlink
        if path in files:
            fields = parse_os_release(files[path].data)
            if fields.get("ID"):
                return Distro(fields["ID"].lower(), fields.get("VERSION_ID") or None)
    return None
