"""The advisory index the matcher reads through: (ecosystem, normalized name) → records.

``AdvisoryIndex`` is the small interface; ``MemoryIndex`` is the in-memory version the
ad-hoc command and the verifier use. The appliance implements the same interface over
SQLite (appliance/findings_index.py). Lookups return advisories sorted by id, so the
matcher's output never depends on insertion order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from kit.findings.advisory import Advisory


class AdvisoryIndex(Protocol):
    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        """Advisories with an affected entry for (purl type, normalized name), by id."""
        ...


def index_keys(advisory: Advisory) -> set[tuple[str, str]]:
    """The (purl type, normalized name) keys one advisory is filed under."""
    return {(a.purl_type, a.normalized_name) for a in advisory.affected}


class MemoryIndex:
    """An ``AdvisoryIndex`` held in a dict; withdrawn advisories are not filed."""

    def __init__(self, advisories: Iterable[Advisory] = ()) -> None:
        self._by_key: dict[tuple[str, str], list[Advisory]] = defaultdict(list)
        self._frozen: dict[tuple[str, str], tuple[Advisory, ...]] = {}
        self.withdrawn: list[str] = []
        for advisory in advisories:
            self.add(advisory)

    def add(self, advisory: Advisory) -> None:
        if advisory.withdrawn:
            self.withdrawn.append(advisory.id)
            return
        for key in index_keys(advisory):
            self._by_key[key].append(advisory)
            self._frozen.pop(key, None)

    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        key = (ecosystem, name)
        found = self._frozen.get(key)
        if found is None:
            found = tuple(sorted(self._by_key.get(key, ()), key=lambda a: (a.id, a.source)))
            self._frozen[key] = found
        return found

    def __len__(self) -> int:
        return len({id(a) for items in self._by_key.values() for a in items})
