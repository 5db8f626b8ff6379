"""The kit manifest: identity, freshness and the index of every entry.

The manifest is the payload of the first tar entry, a DSSE envelope. A kit's identity
(``kitId``) is the sha256 of the canonical payload, which covers every entry's digest,
so it survives recompression of the outer file.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from kit import canonical, schema
from kit.errors import (
    DuplicateIndexEntry,
    KitLimitError,
    NotAKit,
    SchemaError,
    UnknownVersion,
    UnsafeIndexPath,
    UnsortedIndex,
)
from kit.format.limits import KitLimits
from kit.timeutil import format_time, parse_time

KIT_MANIFEST_TYPE = "application/vnd.stella.kit.manifest+json"
MANIFEST_PATH = "stella-kit.dsse.json"
FORMAT_VERSION = "1.0"
SUPPORTED_MAJOR = 1

# Entry paths: relative, '/'-separated, conservative characters, no '.' or '..' parts.
_PART = re.compile(r"^[A-Za-z0-9._@+=,~-](?:[A-Za-z0-9 ._@+=,~-]*[A-Za-z0-9._@+=,~-])?$")


def check_entry_path(path: str) -> str | None:
    """Why *path* is not a safe entry path, or None when it is."""
    if not path:
        return "empty path"
    if path.startswith("/"):
        return "absolute path"
    if len(path.encode("utf-8")) > 255:
        return "path longer than 255 bytes"
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "path with '..', '.' or an empty component (path traversal)"
    bad = next((p for p in parts if not _PART.match(p)), None)
    if bad is not None:
        return f"unsupported characters in path component {bad!r}"
    if path == MANIFEST_PATH:
        return "reserved path"
    return None


@dataclass(frozen=True)
class Entry:
    path: str
    media_type: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "mediaType": self.media_type, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Entry:
        return cls(raw["path"], raw["mediaType"], raw["size"], raw["sha256"])


@dataclass(frozen=True)
class Manifest:
    name: str
    channel: str
    sequence: int
    created: dt.datetime
    expires: dt.datetime
    entries: tuple[Entry, ...]
    generator: dict[str, str]
    kind: str = "full"
    base: dict[str, Any] | None = None
    inherited: tuple[Entry, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    format_version: str = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "_type": "stella/kit-manifest", "formatVersion": self.format_version, "name": self.name,
            "channel": self.channel, "sequence": self.sequence, "created": format_time(self.created),
            "expires": format_time(self.expires), "kind": self.kind, "base": self.base,
            "generator": dict(self.generator), "entries": [e.to_dict() for e in self.entries],
        }
        if self.inherited:
            out["inherited"] = [e.to_dict() for e in self.inherited]
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @functools.cached_property
    def _canonical(self) -> bytes:
        # Frozen: the bytes (and so the identity) never change, so they are encoded once;
        # an importer asks for kit_id once per row it writes.
        return canonical.dumps(self.to_dict())

    def to_bytes(self) -> bytes:
        return self._canonical

    @functools.cached_property
    def kit_id(self) -> str:
        return "sha256:" + canonical.sha256_hex(self._canonical)

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)

    @classmethod
    def from_payload(cls, payload: Any, limits: KitLimits, where: str = "manifest") -> Manifest:
        """Check a parsed payload: format version, schema, then the rules a schema cannot say.

        Raises:
            KitFormatError: unknown major version (``unknown-version``), schema errors,
                unsafe or unsorted or duplicate paths.
            KitLimitError: more entries or bytes than *limits* allow.
        """
        check_format_version(payload, where)
        schema.validate("kit-manifest", payload, where)
        entries = tuple(Entry.from_dict(e) for e in payload["entries"])
        check_index(entries, limits, where)
        manifest = cls(
            name=payload["name"], channel=payload["channel"], sequence=payload["sequence"],
            created=parse_time(payload["created"]), expires=parse_time(payload["expires"]),
            entries=entries, generator=payload["generator"], kind=payload["kind"], base=payload["base"],
            inherited=tuple(Entry.from_dict(e) for e in payload.get("inherited", [])),
            annotations=payload.get("annotations", {}), format_version=payload["formatVersion"])
        if (manifest.kind == "delta") != (manifest.base is not None):
            raise SchemaError(f"{where}: a delta kit needs a base, and only a delta kit may have one")
        if manifest.expires <= manifest.created:
            raise SchemaError(f"{where}: expires is not after created")
        return manifest


def check_format_version(payload: Any, where: str) -> None:
    if not isinstance(payload, dict) or payload.get("_type") != "stella/kit-manifest":
        raise NotAKit(f"{where}: the first entry is not a Stella kit manifest")
    version = payload.get("formatVersion")
    if not isinstance(version, str) or version.split(".")[0] != str(SUPPORTED_MAJOR):
        raise UnknownVersion(f"{where}: unknown kit format version {version!r} "
                             f"(this tool reads {SUPPORTED_MAJOR}.x)")


def check_index(entries: tuple[Entry, ...], limits: KitLimits, where: str) -> None:
    if len(entries) > limits.max_entries:
        raise KitLimitError(f"{where}: {len(entries)} entries exceed the limit of {limits.max_entries}")
    total = 0
    previous: bytes | None = None
    for entry in entries:
        problem = check_entry_path(entry.path)
        if problem:
            raise UnsafeIndexPath(f"{where}: unsafe entry path {entry.path!r}: {problem}", entry=entry.path)
        key = entry.path.encode("utf-8")
        if previous is not None and key <= previous:
            failure = DuplicateIndexEntry if key == previous else UnsortedIndex
            raise failure(f"{where}: index is not strictly sorted by path at {entry.path!r}", entry=entry.path)
        previous = key
        if entry.size > limits.max_entry_size:
            raise KitLimitError(f"{where}: entry declares {entry.size} bytes, over the limit of "
                                f"{limits.max_entry_size}", entry=entry.path)
        total += entry.size
    if total > limits.max_total_size:
        raise KitLimitError(f"{where}: entries declare {total} bytes in all, over the limit of "
                            f"{limits.max_total_size}")
