"""Image references: ``[host[:port]/]repo[:tag][@sha256:hex]``.

The parsing follows Docker's rules so a reference means here what it means to
``docker pull``: the first path component is a registry host only if it contains a
``.`` or a ``:`` or is ``localhost``; otherwise the image lives on Docker Hub and a
one-component name gets the ``library/`` prefix. No tag and no digest means ``latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bundler.oci.errors import BadReferenceError

DOCKER_HUB = "docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")


@dataclass(frozen=True)
class Reference:
    """A parsed image reference; ``digest`` wins over ``tag`` when both are given."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/``: the digest if pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def with_digest(self, digest: str) -> Reference:
        """The same reference pinned to *digest* (the tag is kept for display)."""
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_host(text: str) -> tuple[str, str]:
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not _HOST.match(first):
            raise BadReferenceError(f"image reference {text!r}: bad registry host {first!r}",
                                    entry=text)
        return first, rest
    return DOCKER_HUB, text


def parse_reference(text: str) -> Reference:
    """Parse *text* into a ``Reference``.

    Raises:
        BadReferenceError: the text is empty, has upper-case repository characters, a bad
            tag or a digest that is not ``sha256:`` + 64 lower-case hex digits.
    """
    raw = text.strip()
    if not raw or any(c.isspace() for c in raw):
        raise BadReferenceError(f"image reference {text!r} is empty or contains spaces", entry=text)
    rest, _, digest = raw.partition("@")
    if digest and not _DIGEST.match(digest):
        raise BadReferenceError(f"image reference {text!r}: digest must be sha256:<64 hex>",
                                entry=text)
    registry, path = _split_host(rest)
    tag = None
    colon = path.rfind(":")
    if colon != -1:
        path, tag = path[:colon], path[colon + 1:]
        if not _TAG.match(tag):
            raise BadReferenceError(f"image reference {text!r}: bad tag {tag!r}", entry=text)
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not all(_COMPONENT.match(part) for part in path.split("/")):
        raise BadReferenceError(f"image reference {text!r}: bad repository name {path!r}",
                                entry=text)
    if tag is None and not digest:
        tag = DEFAULT_TAG
    return Reference(registry, path, tag, digest or None)
