"""The streaming kit reader: one pass, signature first, every byte accounted for.

Order of checks (each recorded in the result, each failure named):
  1. the file is zstd and its first tar entry is the manifest envelope (bounded size);
  2. the envelope and payload parse strictly; the format major version is known;
  3. with a trust root: the kit's channel exists and a threshold of its keys signed;
  4. the manifest matches its schema; paths are safe, sorted and unique; limits hold;
  5. the kit is not expired at the reference time;
  6. every entry follows in index order, as a plain file with a canonical header, with
     exactly the declared size and digest — streamed to the sink, never held whole;
  7. the archive ends with the end marker and nothing after it.
Nothing is handed to a sink before step 5 passed, and a sink learns whether each entry
verified before it may keep it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from kit import canonical, dsse
from kit.errors import (
    BadHeader,
    BadPadding,
    DigestMismatch,
    DuplicateEntry,
    EntryNotInIndex,
    Expired,
    KitError,
    KitFormatError,
    KitIOError,
    KitLimitError,
    MalformedEnvelope,
    MissingEntry,
    NotAKit,
    NotARegularFile,
    OutOfOrder,
    SchemaError,
    TamperedManifest,
    TrailingGarbage,
    Truncated,
    UnsafePath,
    Unsigned,
    UntrustedKey,
    WrongChannel,
)
from kit.format import tarstream, zstdio
from kit.format.limits import KitLimits
from kit.format.manifest import (
    KIT_MANIFEST_TYPE,
    MANIFEST_PATH,
    Entry,
    Manifest,
    check_entry_path,
    check_format_version,
)
from kit.inputfile import open_regular
from kit.timeutil import epoch_seconds, format_time
from kit.trust.root import TrustRoot


class EntryWriter(Protocol):
    def write(self, chunk: memoryview) -> None: ...
    def close(self, verified: bool) -> None: ...


class EntrySink(Protocol):
    """Receives entries as they stream; ``open`` may return None to skip an entry's bytes."""

    def open(self, entry: Entry) -> EntryWriter | None: ...


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class ReadResult:
    """What reading a kit established. ``error`` is set when a check failed."""

    path: str
    checks: list[Check] = field(default_factory=list)
    manifest: Manifest | None = None
    envelope: dsse.Envelope | None = None
    signatures: dsse.VerificationResult | None = None
    trust_root: TrustRoot | None = None
    entries_verified: int = 0
    bytes_verified: int = 0
    bytes_read: int = 0          # uncompressed bytes consumed: shows a bad kit stopped early
    error: KitError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def kit_id(self) -> str | None:
        return self.manifest.kit_id if self.manifest else None

    def passed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "kit": self.path, "verified": self.ok, "kitId": self.kit_id,
            "name": m.name if m else None, "channel": m.channel if m else None,
            "sequence": m.sequence if m else None, "kind": m.kind if m else None,
            "created": format_time(m.created) if m else None, "expires": format_time(m.expires) if m else None,
            "entries": len(m.entries) if m else None, "bytes": m.total_size if m else None,
            "entriesVerified": self.entries_verified, "bytesVerified": self.bytes_verified,
            "trustRoot": {"version": self.trust_root.version, "digest": self.trust_root.digest}
            if self.trust_root else None,
            "signatures": {"valid": sorted(self.signatures.valid), "threshold": self.signatures.threshold}
            if self.signatures else None,
            "checks": [c.to_dict() for c in self.checks],
            "error": {"kind": self.error.kind, "message": self.error.message, "entry": self.error.entry}
            if self.error else None,
        }


class KitReader:
    """Read one kit file. Use :meth:`verify` (or :func:`inspect_kit` for an unverified look)."""

    def __init__(self, path: Path, *, limits: KitLimits = KitLimits()):
        self.path = Path(path)
        self.limits = limits

    def verify(self, *, trust: TrustRoot | None, at: dt.datetime, channel: str | None = None,
               sink: EntrySink | None = None, manifest_only: bool = False,
               progress: Callable[[int], None] | None = None) -> ReadResult:
        """Run every check; never raises for bad input — the result carries the error.

        With ``trust=None`` signatures are not checked (``inspect``); with
        ``manifest_only`` the entries are not streamed.
        """
        result = ReadResult(str(self.path))
        try:
            with open_regular(self.path, "kit") as fh:      # a FIFO or device: refused by name
                self._check_magic(fh)
                stream = zstdio.DecompressedStream(fh, self.limits.max_window_size)
                try:
                    self._run(stream, result, trust, at, channel, sink, manifest_only, progress)
                finally:
                    result.bytes_read = stream.consumed
                    stream.close()
        except KitError as exc:
            result.error = exc
            result.checks.append(Check(exc.kind, False, exc.one_line()))
        except OSError as exc:
            result.error = KitIOError(f"cannot read {self.path}: {exc.strerror or exc}")
            result.checks.append(Check("io", False, result.error.message))
        return result

    @staticmethod
    def _check_magic(fh: BinaryIO) -> None:
        head = fh.read(4)
        if head != zstdio.ZSTD_MAGIC:
            raise NotAKit("not a Stella kit: the file is not zstd-compressed")
        fh.seek(0)

    def _run(self, stream: zstdio.DecompressedStream, result: ReadResult, trust: TrustRoot | None,
             at: dt.datetime, channel: str | None, sink: EntrySink | None, manifest_only: bool,
             progress: Callable[[int], None] | None) -> None:
        envelope, payload, raw_header, size = self._read_manifest_entry(stream, trust)
        result.envelope = envelope
        result.passed("container", "zstd stream; first entry is the manifest envelope")
        if trust is not None:
            result.trust_root = trust
            self._check_signatures(envelope, payload, trust, channel, result)
        manifest = Manifest.from_payload(payload, self.limits, "manifest")
        result.manifest = manifest
        if raw_header != tarstream.encode_header(MANIFEST_PATH, size, epoch_seconds(manifest.created)):
            raise BadHeader("the manifest entry's tar header is not canonical",
                            entry=MANIFEST_PATH)
        result.passed("manifest", f"format {manifest.format_version}, {len(manifest.entries)} entries, "
                                  f"{manifest.total_size} bytes declared")
        if channel is not None and manifest.channel != channel:
            raise WrongChannel(f"kit is for channel {manifest.channel!r}, expected {channel!r}")
        if at >= manifest.expires:
            raise Expired(f"kit expired at {format_time(manifest.expires)} "
                          f"(checked at {format_time(at)})")
        result.passed("expiry", f"valid until {format_time(manifest.expires)}")
        if manifest_only:
            return
        self._read_entries(stream, manifest, result, sink, progress)
        self._read_end(stream)
        result.passed("end", "end-of-archive marker, nothing after it")

    def _read_manifest_entry(self, stream: zstdio.DecompressedStream,
                             trust: TrustRoot | None = None) -> tuple[dsse.Envelope, Any, bytes, int]:
        raw, path, size, typeflag = _read_header(stream, self.limits, first=True)
        if typeflag not in (b"0", b"\0") or path != MANIFEST_PATH:
            raise NotAKit(f"the first entry is {path!r}, not the manifest envelope {MANIFEST_PATH}", entry=path)
        if size > self.limits.max_manifest_bytes:
            raise KitLimitError(f"manifest envelope of {size} bytes exceeds the limit of "
                                f"{self.limits.max_manifest_bytes}", entry=MANIFEST_PATH)
        data = stream.read(size)
        if len(data) != size:
            raise Truncated("the kit is truncated inside the manifest", entry=MANIFEST_PATH)
        _read_padding(stream, size, MANIFEST_PATH)
        try:
            document = canonical.loads(data)
        except canonical.CanonicalJSONError as exc:    # empty, not JSON: not an envelope at all
            raise MalformedEnvelope(f"manifest envelope: {exc}", entry=MANIFEST_PATH) from None
        if trust is not None:       # before the payload is decoded, re-encoded or parsed
            _signed_by_a_known_key(document, trust)
        envelope = dsse.Envelope.from_dict(document, "manifest envelope")
        if canonical.dumps(document) != data:           # JSON, but not as it was signed
            raise TamperedManifest("the manifest envelope is not canonical JSON (edited?)", entry=MANIFEST_PATH)
        if envelope.payload_type != KIT_MANIFEST_TYPE:
            raise NotAKit(f"manifest payload type is {envelope.payload_type!r}, not {KIT_MANIFEST_TYPE}",
                          entry=MANIFEST_PATH)
        payload = envelope.payload_json("manifest")
        check_format_version(payload, "manifest")
        return envelope, payload, raw, size

    @staticmethod
    def _check_signatures(envelope: dsse.Envelope, payload: Any, trust: TrustRoot, channel: str | None,
                          result: ReadResult) -> None:
        name = payload.get("channel")
        if not isinstance(name, str):
            raise SchemaError("manifest has no channel", entry=MANIFEST_PATH)
        if channel is not None and name != channel:
            raise WrongChannel(f"kit is for channel {name!r}, expected {channel!r}")
        role = trust.channel(name)
        result.signatures = dsse.verify(envelope, trust.role_keys(role), role.threshold, KIT_MANIFEST_TYPE,
                                        f"kit manifest (channel {name})")
        result.passed("signatures", f"channel {name}: {result.signatures.describe()} "
                                    f"(trust root version {trust.version})")

    def _read_entries(self, stream: zstdio.DecompressedStream, manifest: Manifest, result: ReadResult,
                      sink: EntrySink | None, progress: Callable[[int], None] | None) -> None:
        mtime = epoch_seconds(manifest.created)
        index = {e.path: i for i, e in enumerate(manifest.entries)}
        for position, entry in enumerate(manifest.entries):
            try:
                raw, path, _size, typeflag = _read_header(stream, self.limits)
            except KitError as exc:
                exc.entry = exc.entry or entry.path      # name the entry we were waiting for
                raise
            if raw is None:
                raise MissingEntry(f"entry {entry.path} is missing: the archive ends after "
                                   f"{position} of {len(manifest.entries)} entries", entry=entry.path)
            _classify(path, typeflag, index, position, entry)
            if raw != tarstream.encode_header(entry.path, entry.size, mtime):
                raise BadHeader("tar header is not the canonical header for the indexed entry "
                                "(size, mode, owner or time changed)", entry=path)
            _stream_entry(stream, entry, sink, progress)
            result.entries_verified += 1
            result.bytes_verified += entry.size
        result.passed("entries", f"{result.entries_verified} entries, {result.bytes_verified} bytes, "
                                 "every digest and size matches")

    @staticmethod
    def _read_end(stream: zstdio.DecompressedStream) -> None:
        try:
            block = stream.read(tarstream.BLOCK)
        except zstdio.DecompressError as exc:
            raise type(exc)(exc.message) from None
        if len(block) < tarstream.BLOCK:
            raise Truncated("the kit is truncated: no end-of-archive marker")
        if not tarstream.is_zero_block(block):
            raise EntryNotInIndex("an entry that is not in the index follows the last indexed entry",
                                  entry=_peek_name(block))
        try:
            rest = stream.read(tarstream.BLOCK + 1)
        except zstdio.DecompressError as exc:
            raise type(exc)(exc.message) from None
        if rest[:tarstream.BLOCK] != bytes(tarstream.BLOCK) or len(rest) != tarstream.BLOCK:
            raise TrailingGarbage("data after the end-of-archive marker")


def _signed_by_a_known_key(document: Any, trust: TrustRoot) -> None:
    """Cheap checks first: no signature, or none by a key the trust root knows, is refused
    before the payload (an index of up to a million entries, tens of MiB of base64) is
    decoded, checked for canonical form or parsed. The full check against the kit's channel
    and its threshold follows once the payload names the channel. A malformed envelope is
    left to ``Envelope.from_dict`` to name."""
    signatures = document.get("signatures") if isinstance(document, dict) else None
    if not isinstance(signatures, list) or not all(isinstance(s, dict) and isinstance(s.get("keyid"), str)
                                                   for s in signatures):
        return
    if not signatures:
        raise Unsigned("kit manifest carries no signature", entry=MANIFEST_PATH)
    keyids = {s["keyid"] for s in signatures}
    strangers = sorted(keyids - set(trust.keys))
    if len(strangers) == len(keyids):
        raise UntrustedKey(f"kit manifest is signed only by untrusted key {', '.join(k[:12] for k in strangers)} "
                           f"(trust root version {trust.version} knows none of them)", entry=MANIFEST_PATH)


def _peek_name(block: bytes) -> str | None:
    try:
        return tarstream.parse_header(block).path
    except tarstream.TarHeaderError:
        return None


def _read_header(stream: zstdio.DecompressedStream, limits: KitLimits,
                 first: bool = False) -> tuple[Any, str, int, bytes]:
    """Read the header block(s) of the next entry: (raw bytes, path, size, typeflag).

    Returns ``(None, "", 0, b"")`` at a zero block (end of archive).
    """
    try:
        block = stream.read(tarstream.BLOCK)
    except zstdio.DecompressError as exc:
        raise type(exc)(exc.message) from None
    if len(block) < tarstream.BLOCK:
        if first and not block:
            raise NotAKit("not a Stella kit: the compressed stream is empty")
        raise Truncated("the kit is truncated (the stream ends inside a header)")
    if tarstream.is_zero_block(block):
        if first:
            raise NotAKit("not a Stella kit: the archive is empty")
        return None, "", 0, b""
    try:
        header = tarstream.parse_header(block)
        raw = block
        path, size = header.path, header.size
        if header.typeflag in (b"x", b"g"):
            if header.size > limits.max_pax_bytes:
                raise KitLimitError(f"pax header of {header.size} bytes exceeds {limits.max_pax_bytes}")
            data = stream.read(header.size + tarstream.padding(header.size))
            nxt = stream.read(tarstream.BLOCK)
            if len(nxt) < tarstream.BLOCK or tarstream.is_zero_block(nxt):
                raise BadHeader("a pax header is not followed by an entry")
            records = tarstream.parse_pax(data[:header.size])
            inner = tarstream.parse_header(nxt)
            raw = block + data + nxt
            path = records.get("path", inner.path)
            pax_size = records.get("size")
            if pax_size is not None and not (pax_size.isascii() and pax_size.isdigit()):
                raise tarstream.NegativeNumber(f"pax size {pax_size[:40]!r} is not a non-negative integer")
            size = int(pax_size) if pax_size is not None else inner.size
            return raw, path, size, inner.typeflag
        return raw, path, size, header.typeflag
    except tarstream.NegativeNumber as exc:    # a size that cannot be: malformed, wherever it is
        raise KitFormatError(f"malformed tar header: {exc}") from None
    except tarstream.TarHeaderError as exc:
        if first:
            raise NotAKit(f"not a Stella kit: the content is not a tar stream ({exc})") from None
        raise BadHeader(f"corrupt tar header: {exc}") from None
    except zstdio.DecompressError as exc:
        raise type(exc)(exc.message) from None


def _classify(path: str, typeflag: bytes, index: dict[str, int], position: int, expected: Entry) -> None:
    """Name what is wrong when the next header is not the expected entry."""
    if typeflag not in (b"0", b"\0"):
        what = tarstream.TYPE_NAMES.get(typeflag, f"type {typeflag!r}")
        raise NotARegularFile(f"entry {path!r} is a {what}; a kit holds only regular files", entry=path)
    problem = check_entry_path(path)
    if problem:
        raise UnsafePath(f"unsafe entry path {path!r}: {problem}", entry=path)
    if path == expected.path:
        return
    where = index.get(path)
    if where is None:
        raise EntryNotInIndex(f"entry {path!r} is not in the signed index",
                              entry=path)
    if where < position:
        raise DuplicateEntry(f"entry {path!r} appears twice", entry=path)
    raise OutOfOrder(f"entry {path!r} is out of index order (expected {expected.path!r} here)", entry=path)


def _read_padding(stream: zstdio.DecompressedStream, size: int, path: str) -> None:
    pad = tarstream.padding(size)
    if pad:
        data = stream.read(pad)
        if len(data) != pad:
            raise Truncated("the kit is truncated", entry=path)
        if not tarstream.is_zero_block(data):
            raise BadPadding("non-zero bytes in the padding after the entry",
                             entry=path)


def _stream_entry(stream: zstdio.DecompressedStream, entry: Entry, sink: EntrySink | None,
                  progress: Callable[[int], None] | None) -> None:
    writer = sink.open(entry) if sink is not None else None
    digest, got, verified = hashlib.sha256(), 0, False
    try:
        try:
            for piece in stream.chunks(entry.size):
                digest.update(piece)
                got += len(piece)
                if writer is not None:
                    writer.write(piece)
                if progress:
                    progress(len(piece))
        except zstdio.DecompressError as exc:
            raise type(exc)(exc.message, entry=entry.path) from None
        if got != entry.size:
            raise Truncated(f"the kit is truncated inside entry {entry.path} ({got} of {entry.size} bytes)",
                            entry=entry.path)
        if digest.hexdigest() != entry.sha256:
            raise DigestMismatch(f"sha256 of {entry.path} is {digest.hexdigest()[:16]}…, the index says "
                                 f"{entry.sha256[:16]}…", entry=entry.path)
        _read_padding(stream, entry.size, entry.path)
        verified = True
    finally:
        if writer is not None:
            writer.close(verified)


def inspect_kit(path: Path, limits: KitLimits = KitLimits()) -> ReadResult:
    """Read only the manifest, without checking signatures or expiry (for ``inspect``)."""
    return KitReader(path, limits=limits).verify(trust=None, at=dt.datetime.min.replace(tzinfo=dt.UTC),
                                                 manifest_only=True)
