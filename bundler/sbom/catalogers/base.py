"""What every cataloger provides, and helpers they share."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro
from bundler.sbom.probe import ContentProbe, Tap


class Cataloger(Protocol):
    """Finds one ecosystem's packages among the kept files of an image."""

    # Read-only members, so a cataloger may declare them as plain class attributes
    # (``probe = None``); a settable protocol member would demand exactly ``ContentProbe | None``.
    @property
    def name(self) -> str: ...

    @property
    def probe(self) -> ContentProbe | Tap | None:
        """Files it finds by content (kept as an excerpt), if any."""
        ...

    def wants(self, path: str) -> bool:
        """True if the file at *path* (relative, no leading /) should be kept."""
        ...

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """The components described by the kept files."""
        ...


def json_documents(files: Mapping[str, KeptFile], wants: Callable[[str], bool]
                   ) -> Iterator[tuple[str, KeptFile, Any]]:
    """(path, file, parsed JSON) of each kept file *wants* names, in path order. A file that is not
    JSON, or nests deeper than the parser goes, describes no package: it is passed over, never fatal
    to the image (one bad file hides no other)."""
    for path in sorted(p for p in files if wants(p)):
        kept = files[path]
        try:
            doc = json.loads(kept.data)
        except (ValueError, RecursionError):
            continue
        yield path, kept, doc


def attribute(file: KeptFile, key: Hashable,
              keys_of: Callable[[bytes], Iterable[Hashable]]) -> str:
    """The layer that last introduced *key* into a database file.

    Walks the file's versions from newest to oldest while *key* is still present; the
    oldest version in that unbroken run is where the package (at this version) arrived.
    Each version is parsed once per file (a database of 700 packages was parsed 700
    times per package before: 15 s for one image).
    """
    layer = file.layer
    for old_layer, keys in reversed(_key_sets(file, keys_of)):
        if key not in keys:
            break
        layer = old_layer
    return layer


_CACHE: dict[tuple[int, int], tuple[KeptFile, list[tuple[str, frozenset[Hashable]]]]] = {}


def _key_sets(file: KeptFile, keys_of: Callable[[bytes], Iterable[Hashable]]
              ) -> list[tuple[str, frozenset[Hashable]]]:
    """(layer, keys) of every version of *file*, computed once per file and parser."""
    slot = (id(file), id(keys_of))
    hit = _CACHE.get(slot)
    if hit is not None and hit[0] is file:
        return hit[1]
    sets = [(layer, frozenset(keys_of(data))) for layer, data in file.versions()]
    _CACHE.clear()                       # one file at a time: no unbounded growth
    _CACHE[slot] = (file, sets)
    return sets


def text(data: bytes) -> str:
    """Decode database text; bad bytes must not stop cataloging."""
    return data.decode("utf-8", errors="replace")
