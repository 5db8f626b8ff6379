"""Rust crates: audit data compiled into binaries (cargo-auditable), and ``Cargo.lock``.

``cargo auditable build`` links a ``.dep-v0`` section into the binary: the crate graph as
zlib-compressed JSON (``{"packages": [{"name", "version", "source", ...}]}``). The
section's place is known only from the section headers at the end of the file, and a
layer is a stream, so :class:`DepTap` looks at the bytes of every executable ELF file as
they pass (alongside the Go probe, on the same read): at each offset where a zlib header
starts a stream that inflates to that JSON, it keeps the JSON (at most
``MAX_AUDIT_BYTES``), never the binary. ``Cargo.lock`` files (a source tree or a
vendored build in the image) are read by path. Each crate is ``pkg:cargo/NAME@VERSION``.
"""

from __future__ import annotations

import json
import re
import tomllib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

from bundler.sbom.catalogers.base import text
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro
from bundler.sbom.probe import TapScan

ELF = b"\x7fELF"
MAGIC = b"stella:rust-dep-v0:1\n"
MAX_AUDIT_BYTES = 8 * 1024 * 1024
_ZLIB = re.compile(rb"\x78[\x01\x5e\x9c\xda]")
_LOOK = 64                              # compressed bytes tried at each candidate offset
_PREFIX = re.compile(rb'^\{\s*"(?:packages|format)"\s*:')
_SHARED_LIBRARY = re.compile(r"\.so(?:\.\d+)*$")
LOCK = "Cargo.lock"


class _DepScan:
    """One ELF file's bytes, looking for the audit data's zlib stream."""

    def __init__(self) -> None:
        self.head = b""
        self.carry = b""                # the last _LOOK bytes, not yet tried as a start
        self.inflating: Any = None      # zlib decompressobj of a candidate that looked right
        self.parts: list[bytes] = []
        self.size = 0
        self.found: bytes | None = None

    def feed(self, data: bytes) -> bool:
        if len(self.head) < len(ELF):
            self.head += data[:len(ELF) - len(self.head)]
            if not ELF.startswith(self.head):
                return False
        first = False
        while data:
            if self.inflating is not None:
                data = self._inflate(data, first)
                if self.found is not None:
                    return False
                if self.inflating is not None:
                    return True
                continue                      # not it: look again in what follows
            buf = self.carry + data
            end = max(0, len(buf) - _LOOK)
            for match in _ZLIB.finditer(buf, 0, end):
                if match.start() < end and self._try(buf, match.start()):
                    self.carry, data, first = b"", buf[match.start():], True
                    self.inflating, self.parts, self.size = zlib.decompressobj(), [], 0
                    break
            else:
                self.carry = buf[end:]
                return True
        return True

    def _try(self, buf: bytes, at: int) -> bool:
        try:
            out = zlib.decompressobj().decompress(buf[at:at + _LOOK], 32)
        except zlib.error:
            return False
        return bool(_PREFIX.match(out))

    def _inflate(self, data: bytes, first: bool) -> bytes:
        """Feed the candidate's stream; the bytes still to look at when it is done with
        (the rest after the stream, or after its first byte when it was not audit data)."""
        try:
            out = self.inflating.decompress(data, MAX_AUDIT_BYTES + 1 - self.size)
        except zlib.error:
            self.inflating = None
            return data[1:] if first else data
        self.parts.append(out)
        self.size += len(out)
        if self.size > MAX_AUDIT_BYTES:
            self.inflating = None
            return data[1:] if first else data
        if not self.inflating.eof:
            return b""
        rest: bytes = self.inflating.unused_data
        whole = b"".join(self.parts)
        self.inflating, self.parts = None, []
        if audit_packages(whole):
            self.found = MAGIC + whole
        return rest

    def result(self) -> bytes | None:
        if self.found is None and self.inflating is None and self.carry:
            buf, self.carry = self.carry + b"\0" * _LOOK, b""     # let the last bytes be tried too
            self.feed(buf)
        return self.found


@dataclass(frozen=True)
class DepTap:
    """Watches executable ELF files (not shared libraries) for cargo-auditable data."""

    min_size: int = 64

    def wants(self, path: str, mode: int, size: int) -> bool:
        return bool(mode & 0o111) and size >= self.min_size and not _SHARED_LIBRARY.search(path)

    def start(self) -> TapScan:
        return _DepScan()


TAP = DepTap()


def cargo_purl(name: str, version: str) -> str:
    return PackageURL("cargo", None, name, version).to_string()


def audit_packages(data: bytes) -> list[tuple[str, str]]:
    """(name, version) of every crate in cargo-auditable JSON; [] when it is not that."""
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    packages = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(packages, list):
        return []
    return [(p["name"], p["version"]) for p in packages if isinstance(p, dict)
            and isinstance(p.get("name"), str) and isinstance(p.get("version"), str) and p["name"] and p["version"]]


def lock_packages(data: bytes) -> list[tuple[str, str]]:
    """(name, version) of every ``[[package]]`` in a Cargo.lock; [] when it does not parse."""
    try:
        doc = tomllib.loads(text(data))
    except (tomllib.TOMLDecodeError, ValueError):
        return []
    packages = doc.get("package")
    if not isinstance(packages, list):
        return []
    return [(p["name"], p["version"]) for p in packages if isinstance(p, dict)
            and isinstance(p.get("name"), str) and isinstance(p.get("version"), str) and p["name"] and p["version"]]


class RustCataloger:
    """Crates in cargo-auditable binaries (found by content) and in ``Cargo.lock`` files."""

    name = "rust"
    probe = TAP

    def wants(self, path: str) -> bool:
        return path == LOCK or path.endswith("/" + LOCK)

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        out = []
        for path in sorted(files):
            kept = files[path]
            if kept.data.startswith(MAGIC):
                crates = audit_packages(kept.data[len(MAGIC):])
            elif self.wants(path):
                crates = lock_packages(kept.data)
            else:
                continue
            for name, version in dict.fromkeys(crates):
                out.append(Component(cargo_purl(name, version), name, version, "cargo", path, kept.layer,
                                     (), self.name))
        return out
