"""The content store: ``blobs/sha256/<hex>``, one file per distinct content, shared by all kits.

Files only ever appear under their digest by rename from ``staging/`` after the import
that brought them committed, so a file under a digest always holds those bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEX = re.compile(r"^[0-9a-f]{64}$")


def check_hex(hexdigest: str) -> str:
    if not _HEX.match(hexdigest):
        raise ValueError(f"not a sha256 hex digest: {hexdigest!r}")
    return hexdigest


def hex_of(digest: str) -> str:
    """``sha256:<hex>`` or ``<hex>`` → ``<hex>``."""
    return check_hex(digest.removeprefix("sha256:"))


class BlobStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, digest: str) -> Path:
        return self.root / hex_of(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def hexes(self) -> set[str]:
        return {p.name for p in self.root.iterdir() if _HEX.match(p.name)}

    def disk_use(self) -> int:
        return sum(p.stat().st_size for p in self.root.iterdir() if p.is_file())
