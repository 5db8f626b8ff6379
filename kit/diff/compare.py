"""What changes from one kit (or an appliance's state) to another: ``stella-bundler diff``, ``stella plan``.

Pure: both sides are :class:`~kit.diff.view.KitView` objects; nothing here reads the
network or a database. Content a side cannot open (entries a delta inherits from a base
that was not given) is listed under ``unknown`` instead of being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.diff import advisories, documents
from kit.diff.view import TRUST_ROOT_TYPE, KitView
from kit.format.manifest import Manifest
from kit.timeutil import format_time

MAX_DOC = 32 << 20           # a release, VEX or policy document larger than this is compared by digest only


@dataclass(frozen=True)
class KitDiff:
    """The sections of a diff (each JSON-ready, sorted); ``to_dict`` is what ``--json`` prints."""

    old: dict[str, Any]
    new: dict[str, Any]
    kits: dict[str, Any]
    releases: dict[str, list[Any]]
    advisories: dict[str, list[Any]]
    vex: dict[str, list[Any]]
    policy: dict[str, list[Any]]
    trust: dict[str, Any]
    entries: dict[str, list[Any]]
    unknown: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "kits": self.kits, "releases": self.releases,
                "advisories": self.advisories, "vex": self.vex, "policy": self.policy, "trust": self.trust,
                "entries": self.entries, "unknown": self.unknown}

    @property
    def changes_content(self) -> bool:
        """Whether anything a finding or a gate reads changes (releases, advisories, VEX, policy, trust)."""
        sections = (self.releases, self.advisories, self.vex, self.policy)
        return any(v for s in sections for v in s.values()) or bool(self.trust["changed"])


def describe(view: KitView) -> dict[str, Any]:
    """Identity and sizes of one side."""
    m = view.manifest
    inherited = sum(e.size for e in m.inherited)
    return {"label": view.label, "kitId": m.kit_id, "name": m.name, "channel": m.channel, "sequence": m.sequence,
            "kind": m.kind, "base": m.base, "created": format_time(m.created), "expires": format_time(m.expires),
            "signedBy": list(view.signed_by), "entries": len(m.entries) + len(m.inherited),
            "bytes": m.total_size + inherited, "carriedEntries": len(m.entries), "carriedBytes": m.total_size,
            "inheritedEntries": len(m.inherited), "inheritedBytes": inherited, "fileSize": view.file_size}


def _docs(view: KitView, prefix: str, unknown: set[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for entry in view.all_entries:
        if not entry.path.startswith(prefix) or entry.path.endswith(".yaml") or entry.size > MAX_DOC:
            continue                      # compose templates are not compared; a huge document by digest only
        data = view.read(entry, MAX_DOC)
        if data is None:
            unknown.add(entry.path)
        else:
            out[entry.path] = data
    return out


def _pair(old: KitView, new: KitView, prefix: str, unknown: set[str]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Both sides' documents under *prefix*; a path unknown on either side is left out of both."""
    missing: set[str] = set()
    a, b = _docs(old, prefix, missing), _docs(new, prefix, missing)
    unknown |= missing
    return ({p: d for p, d in a.items() if p not in missing}, {p: d for p, d in b.items() if p not in missing})


def _advisories(old: KitView, new: KitView, unknown: set[str]) -> dict[str, list[Any]]:
    a = next((e for e in old.all_entries if e.path == advisories.RECORDS), None)
    b = next((e for e in new.all_entries if e.path == advisories.RECORDS), None)
    fa, fb = old.open(a) if a else None, new.open(b) if b else None
    if (a is not None and fa is None) or (b is not None and fb is None):
        unknown.add(advisories.RECORDS)
        return {"added": [], "changed": [], "withdrawn": []}
    if a is not None and b is not None and a.sha256 == b.sha256:
        return {"added": [], "changed": [], "withdrawn": []}
    return advisories.compare(fa, fb, old.label, new.label)


def _entries(old: Manifest, new: Manifest) -> dict[str, list[Any]]:
    a = {e.path: e for e in (*old.entries, *old.inherited)}
    b = {e.path: e for e in (*new.entries, *new.inherited)}
    return {"added": [{"path": p, "size": b[p].size} for p in sorted(b.keys() - a.keys())],
            "removed": [{"path": p, "size": a[p].size} for p in sorted(a.keys() - b.keys())],
            "changed": [{"path": p, "oldSize": a[p].size, "newSize": b[p].size}
                        for p in sorted(a.keys() & b.keys()) if a[p].sha256 != b[p].sha256],
            "carried": [e.path for e in new.entries] if new.kind == "delta" else [],
            "inherited": [e.path for e in new.inherited]}


def _trust(old: KitView, new: KitView) -> dict[str, Any]:
    a, b = old.manifest, new.manifest
    roots_a = {e.path: e.sha256 for e in old.all_entries if e.media_type == TRUST_ROOT_TYPE}
    roots_b = {e.path: e.sha256 for e in new.all_entries if e.media_type == TRUST_ROOT_TYPE}
    changed: list[str] = []
    if a.channel != b.channel:
        changed.append(f"channel {a.channel} -> {b.channel}")
    if set(old.signed_by) != set(new.signed_by):
        changed.append("signing keys changed")
    changed += [f"trust root {p} {'added' if p not in roots_a else 'removed' if p not in roots_b else 'changed'}"
                for p in sorted(roots_a.keys() | roots_b.keys()) if roots_a.get(p) != roots_b.get(p)]
    return {"expires": {"old": format_time(a.expires), "new": format_time(b.expires)},
            "signersAdded": sorted(set(new.signed_by) - set(old.signed_by)),
            "signersRemoved": sorted(set(old.signed_by) - set(new.signed_by)), "changed": changed}


def diff(old: KitView, new: KitView) -> KitDiff:
    """Compare two views section by section.

    Raises:
        SchemaError: an advisory records file that is not sorted JSON records with ids.
    """
    unknown: set[str] = set()
    docs = {prefix: _pair(old, new, prefix, unknown) for prefix in ("releases/", "vex/", "policy/")}
    adv = _advisories(old, new, unknown)
    m = new.manifest
    kits = {"sequence": {"old": old.manifest.sequence, "new": m.sequence},
            "sameChannel": old.manifest.channel == m.channel,
            "newIsDeltaOnOld": m.base is not None and m.base["kitId"] == old.manifest.kit_id}
    return KitDiff(old=describe(old), new=describe(new), kits=kits,
                   releases=documents.compare_releases(*docs["releases/"]), advisories=adv,
                   vex=documents.compare_vex(*docs["vex/"]), policy=documents.compare_policy(*docs["policy/"]),
                   trust=_trust(old, new), entries=_entries(old.manifest, m), unknown=sorted(set(unknown)))
