"""The catalog of one image: its identity and the components found in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Bump whenever a cataloger's output could change: it is part of the cache key.
CATALOGER_VERSION = "stella-catalogers-4"   # 2: Go binaries; 3: RPM; 4: Java, Ruby, PHP, Rust, .NET


@dataclass(frozen=True, order=True)
class Component:
    """One installed package, located in the layer that last changed it."""

    purl: str
    name: str
    version: str
    ecosystem: str
    path: str
    layer: str
    licenses: tuple[str, ...] = ()
    cataloger: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (for the cache)."""
        return {"purl": self.purl, "name": self.name, "version": self.version,
                "ecosystem": self.ecosystem, "path": self.path, "layer": self.layer,
                "licenses": list(self.licenses), "cataloger": self.cataloger}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Component:
        """Inverse of ``to_dict``."""
        return cls(data["purl"], data["name"], data["version"], data["ecosystem"], data["path"],
                   data["layer"], tuple(data["licenses"]), data["cataloger"])


@dataclass(frozen=True)
class Distro:
    """``ID`` and ``VERSION_ID`` from os-release."""

    id: str
    version_id: str | None = None

    @property
    def qualifier(self) -> str:
        """The purl ``distro`` qualifier, e.g. ``debian-12``."""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


@dataclass(frozen=True)
class ImageSubject:
    """Which image an SBOM describes: a single-platform manifest digest and its name."""

    registry: str
    repository: str
    digest: str
    tag: str | None = None
    platform: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}"


@dataclass(frozen=True)
class Catalog:
    """Every component of one image, sorted by purl then path."""

    subject: ImageSubject
    components: tuple[Component, ...]
    distro: Distro | None = None
    cataloger_version: str = CATALOGER_VERSION
