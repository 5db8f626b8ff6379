"""Platforms (``os/arch[/variant]``) and how an index entry is matched against them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bundler.oci.errors import BadReferenceError

# Variants the registry may omit; "linux/arm64" should match "linux/arm64/v8".
_DEFAULT_VARIANT = {"arm64": "v8"}


@dataclass(frozen=True, order=True)
class Platform:
    """An OS and CPU architecture, as in an index entry's ``platform`` object."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    def matches(self, other: Platform) -> bool:
        """True when *other* is this platform (a missing variant matches its default)."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        mine = self.variant or _DEFAULT_VARIANT.get(self.architecture)
        theirs = other.variant or _DEFAULT_VARIANT.get(other.architecture)
        return mine is None or theirs is None or mine == theirs

    def to_dict(self) -> dict[str, str]:
        """The OCI ``platform`` object (without os.version/features)."""
        out = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            out["variant"] = self.variant
        return out


DEFAULT_PLATFORMS: tuple[Platform, ...] = (Platform("linux", "amd64"),)


def parse_platform(text: str) -> Platform:
    """Parse ``os/arch`` or ``os/arch/variant``.

    Raises:
        BadReferenceError: the text does not have two or three non-empty parts.
    """
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise BadReferenceError(f"platform {text!r} must be os/arch or os/arch/variant",
                                entry=text)
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def platform_of(obj: Mapping[str, Any] | None) -> Platform | None:
    """The platform of an index entry's ``platform`` object or an image config."""
    if not obj or not isinstance(obj.get("os"), str) or not isinstance(obj.get("architecture"), str):
        return None
    variant = obj.get("variant")
    return Platform(obj["os"], obj["architecture"], variant if isinstance(variant, str) else None)


def wanted(platform: Platform | None, selection: Iterable[Platform]) -> bool:
    """True when *platform* is one of *selection*; entries without a platform never are."""
    return platform is not None and any(p.matches(platform) for p in selection)
