"""Hand-made kits for attack tests: any tar stream, any manifest, signed by any key.

The writer only makes well-formed kits; these helpers make the malformed ones an
attacker would, byte by byte, reusing the kit's own header encoder where a header
should look legitimate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from kit import dsse
from kit.crypto import Signer
from kit.format import tarstream
from kit.format.manifest import KIT_MANIFEST_TYPE, MANIFEST_PATH, Entry, Manifest
from kit.timeutil import epoch_seconds

CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
EXPIRES = dt.datetime(2027, 11, 1, tzinfo=dt.UTC)
AT = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
MTIME = epoch_seconds(CREATED)


def entry_for(path: str, data: bytes, media_type: str = "application/octet-stream") -> Entry:
    return Entry(path, media_type, len(data), hashlib.sha256(data).hexdigest())


def manifest_for(entries: Sequence[Entry], **overrides: object) -> Manifest:
    fields: dict[str, object] = dict(name="site", channel="stable", sequence=1, created=CREATED, expires=EXPIRES,
                                     entries=tuple(entries), generator={"name": "craft", "version": "1"})
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def member(path: str, data: bytes, mtime: int = MTIME) -> bytes:
    """A canonical regular-file member: header, content, padding."""
    return tarstream.encode_header(path, len(data), mtime) + data + bytes(tarstream.padding(len(data)))


def special_member(path: str, kind: bytes, linkname: str = "", data: bytes = b"") -> bytes:
    """A member of another tar type (symlink, hard link, device, directory) made by tarfile."""
    info = tarfile.TarInfo(path)
    info.type = kind
    info.linkname = linkname
    info.size = len(data)
    info.mtime = MTIME
    head = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
    return head + data + bytes(tarstream.padding(len(data)))


@dataclass
class RawKit:
    """A kit as its parts, to be mutated and then compressed."""

    manifest: Manifest
    envelope: dsse.Envelope
    members: list[bytes] = field(default_factory=list)
    trailer: bytes = tarstream.END_OF_ARCHIVE

    def manifest_member(self) -> bytes:
        return member(MANIFEST_PATH, self.envelope.to_bytes())

    def tar_bytes(self) -> bytes:
        return self.manifest_member() + b"".join(self.members) + self.trailer

    def write(self, path: Path, tar: bytes | None = None) -> Path:
        data = self.tar_bytes() if tar is None else tar
        path.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
        return path


def raw_kit(files: dict[str, bytes], signers: Sequence[Signer], **overrides: object) -> RawKit:
    """A well-formed kit holding *files*, as parts."""
    entries = [entry_for(p, d) for p, d in sorted(files.items())]
    manifest = manifest_for(entries, **overrides)
    envelope = dsse.sign(KIT_MANIFEST_TYPE, manifest.to_bytes(), signers)
    return RawKit(manifest, envelope, [member(p, d) for p, d in sorted(files.items())])
