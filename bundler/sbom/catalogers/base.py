"""What every cataloger provides, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Protocol

from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro


class Cataloger(Protocol):
    """Finds one ecosystem's packages among the kept files of an image."""

    name: str

    def wants(self, path: str) -> bool:
        """True if the file at *path* (relative, no leading /) should be kept."""
        ...

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """The components described by the kept files."""
        ...


def attribute(file: KeptFile, key: Hashable,
              keys_of: Callable[[bytes], Iterable[Hashable]]) -> str:
    """The layer that last introduced *key* into a database file.

    Walks the file's versions from newest to oldest while *key* is still present; the
    oldest version in that unbroken run is where the package (at this version) arrived.
    """
    layer = file.layer
    for old_layer, data in reversed(file.versions()):
        if key not in set(keys_of(data)):
            break
        layer = old_layer
    return layer


def text(data: bytes) -> str:
    """Decode database text; bad bytes must not stop cataloging."""
    return data.decode("utf-8", errors="replace")
