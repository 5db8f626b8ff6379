"""What a pull returns: frozen descriptions of the images written to the layout."""

from __future__ import annotations

from dataclasses import dataclass

from bundler.oci.layout import Descriptor
from bundler.oci.platform import Platform


@dataclass(frozen=True)
class PlatformImage:
    """One single-platform image manifest and the blobs it names."""

    digest: str
    media_type: str
    size: int
    platform: Platform | None
    config: Descriptor
    layers: tuple[Descriptor, ...]
    created: str | None = None   # the config's ``created`` as written (None: absent or not a string)

    @property
    def blobs(self) -> tuple[str, ...]:
        """Manifest, config and layer digests, in manifest order."""
        return (self.digest, self.config.digest, *(layer.digest for layer in self.layers))

    @property
    def size_total(self) -> int:
        """Bytes of manifest, config and layers together."""
        return self.size + self.config.size + sum(layer.size for layer in self.layers)


@dataclass(frozen=True)
class PulledImage:
    """An image reference after the pull.

    ``digest``/``media_type`` are what the registry serves for the reference (the
    original index for a multi-arch image). ``layout`` is the descriptor written into
    ``index.json``: the same object when every platform was kept, otherwise a new index
    holding only the kept platforms (a new digest; ``filtered`` is then True).
    """

    reference: str
    registry: str
    repository: str
    tag: str | None
    digest: str
    media_type: str
    layout: Descriptor
    filtered: bool
    manifests: tuple[PlatformImage, ...]

    @property
    def name(self) -> str:
        """``registry/repository``."""
        return f"{self.registry}/{self.repository}"

    @property
    def pinned(self) -> str:
        """``registry/repository@digest`` of what the layout holds (what hosts pull)."""
        return f"{self.name}@{self.layout.digest}"

    @property
    def platforms(self) -> tuple[Platform | None, ...]:
        """Platform of each kept manifest."""
        return tuple(m.platform for m in self.manifests)

    @property
    def blobs(self) -> tuple[str, ...]:
        """Every blob digest this image needs in the layout, sorted, without duplicates."""
        digests = {self.layout.digest}
        for manifest in self.manifests:
            digests.update(manifest.blobs)
        return tuple(sorted(digests))
