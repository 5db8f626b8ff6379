"""The tamper matrix: one test per attack, each refused with the attack and entry named."""

from __future__ import annotations

import base64
import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from kit import canonical, dsse
from kit.crypto import Signer
from kit.errors import KitFormatError, KitLimitError, KitVerificationError
from kit.format import KitLimits, KitReader, tarstream
from kit.format.manifest import KIT_MANIFEST_TYPE, MANIFEST_PATH
from kit.trust.root import TrustRoot
from tests.kit.craft import AT, MTIME, RawKit, entry_for, manifest_for, member, raw_kit, special_member

FILES = {
    "advisories/osv/GHSA-1.json": b'{"id":"GHSA-1"}',
    "attachments/notes.txt": b"release notes\n" * 200,
    "policy/gate.rego": b"package stella.gate\n",
}


@pytest.fixture()
def good(key_a: Signer, key_b: Signer) -> RawKit:
    return raw_kit(FILES, [key_a, key_b])


def verify(path: Path, root: TrustRoot, **kw: object):  # type: ignore[no-untyped-def]
    limits = kw.pop("limits", KitLimits())
    return KitReader(path, limits=limits).verify(trust=root, at=kw.pop("at", AT), **kw)  # type: ignore[arg-type]


def refused(path: Path, root: TrustRoot, kind: str, entry: str | None = None, cls: type = KitVerificationError,
            **kw: object):  # type: ignore[no-untyped-def]
    result = verify(path, root, **kw)
    assert result.error is not None, "the kit was accepted"
    assert result.error.kind == kind, result.error.one_line()
    assert isinstance(result.error, cls), type(result.error)
    if entry is not None:
        assert (result.error.entry or "").rstrip("/") == entry   # tar writes directories as "name/"
        assert entry in result.error.one_line()
    return result


def test_the_untouched_kit_verifies(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    result = verify(good.write(tmp / "k"), root_2of2)
    assert result.ok, result.error and result.error.one_line()
    assert result.entries_verified == 3


def test_flipped_byte_in_a_content_entry(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    m = bytearray(good.members[1])
    m[600] ^= 0x01
    good.members[1] = bytes(m)
    refused(good.write(tmp / "k"), root_2of2, "digest-mismatch", "attachments/notes.txt")


def test_flipped_byte_in_the_manifest_payload(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    payload = json.loads(good.envelope.payload)
    payload["sequence"] = 2                      # a one-digit edit of the signed payload
    good.envelope = dsse.Envelope(KIT_MANIFEST_TYPE, canonical.dumps(payload), good.envelope.signatures)
    refused(good.write(tmp / "k"), root_2of2, "bad-signature")


def test_flipped_byte_in_the_manifest_envelope_bytes(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    raw = bytearray(good.envelope.to_bytes())
    pos = raw.index(b'"payload":"') + 40
    raw[pos] = ord("A") if raw[pos] != ord("A") else ord("B")
    tar = member(MANIFEST_PATH, bytes(raw)) + b"".join(good.members) + good.trailer
    result = verify(good.write(tmp / "k", tar), root_2of2)
    assert result.error is not None and result.error.kind in {"bad-signature", "malformed-payload",
                                                              "malformed-envelope"}


def test_flipped_byte_in_a_signature(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    first = good.envelope.signatures[0]
    bad = dsse.Signature(first.keyid, bytes([first.sig[0] ^ 1]) + first.sig[1:])
    good.envelope = dsse.Envelope(KIT_MANIFEST_TYPE, good.envelope.payload, (bad, *good.envelope.signatures[1:]))
    result = refused(good.write(tmp / "k"), root_2of2, "bad-signature")
    assert "invalid signature" in result.error.message


@pytest.mark.parametrize("where", [0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_flipped_byte_in_the_compressed_file(good: RawKit, root_2of2: TrustRoot, tmp: Path, where: float) -> None:
    path = good.write(tmp / "k")
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x40
    path.write_bytes(bytes(data))
    result = verify(path, root_2of2)
    assert result.error is not None, "a kit with a flipped byte was accepted"
    # Depending on where the byte lands: unreadable manifest, bad signature, bad digest,
    # or the frame checksum at the end. Never accepted, never a traceback.
    assert result.error.kind in {"corrupt", "malformed-envelope", "malformed-payload", "bad-signature",
                                 "tampered-manifest", "digest-mismatch", "bad-header", "not-a-kit", "malformed",
                                 "truncated", "schema", "entry-not-in-index", "unsafe-path", "bad-padding",
                                 "missing-entry", "duplicate-entry", "out-of-order", "not-a-regular-file",
                                 "limit-exceeded", "trailing-garbage", "unknown-version"}, result.error.one_line()


def test_truncated_file(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    path = good.write(tmp / "k")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    result = verify(path, root_2of2)
    assert result.error is not None and result.error.kind in {"truncated", "corrupt"}, result.error.one_line()


def test_truncated_tar_stream(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    tar = good.tar_bytes()
    refused(good.write(tmp / "k", tar[: len(tar) - 1024 - 300]), root_2of2, "truncated", "policy/gate.rego")
    refused(good.write(tmp / "k2", tar[: len(tar) - 1024 - 800]), root_2of2, "truncated", "policy/gate.rego")


def test_trailing_garbage_after_the_compressed_stream(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    path = good.write(tmp / "k")
    path.write_bytes(path.read_bytes() + b"garbage appended by someone")
    refused(path, root_2of2, "trailing-garbage")


def test_trailing_data_after_the_end_of_archive(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    good.trailer = tarstream.END_OF_ARCHIVE + b"hidden payload"
    refused(good.write(tmp / "k"), root_2of2, "trailing-garbage")


def test_entry_not_in_the_index_in_the_middle(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    good.members.insert(1, member("attachments/evil.sh", b"rm -rf /"))
    refused(good.write(tmp / "k"), root_2of2, "entry-not-in-index", "attachments/evil.sh")


def test_entry_not_in_the_index_at_the_end(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    good.members.append(member("zz/evil.sh", b"rm -rf /"))
    refused(good.write(tmp / "k"), root_2of2, "entry-not-in-index", "zz/evil.sh")


def test_missing_entry(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    del good.members[2]
    refused(good.write(tmp / "k"), root_2of2, "missing-entry", "policy/gate.rego")


def test_duplicate_entry(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    good.members.insert(1, good.members[0])
    refused(good.write(tmp / "k"), root_2of2, "duplicate-entry", "advisories/osv/GHSA-1.json")


def test_entries_out_of_index_order(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    good.members[0], good.members[1] = good.members[1], good.members[0]
    refused(good.write(tmp / "k"), root_2of2, "out-of-order", "attachments/notes.txt")


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "policy/../../x", "./x"])
def test_traversal_or_absolute_path_in_the_stream(good: RawKit, root_2of2: TrustRoot, tmp: Path, path: str) -> None:
    good.members.insert(0, member(path, b"x"))
    refused(good.write(tmp / "k"), root_2of2, "unsafe-path", path)


@pytest.mark.parametrize("path", ["../escape.txt", "/abs.txt", "a//b", "a/./b"])
def test_traversal_or_absolute_path_in_the_signed_index(key_a: Signer, key_b: Signer, root_2of2: TrustRoot,
                                                        tmp: Path, path: str) -> None:
    entry = entry_for(path, b"x")
    manifest = manifest_for([entry])
    env = dsse.sign(KIT_MANIFEST_TYPE, manifest.to_bytes(), [key_a, key_b])
    kit = RawKit(manifest, env, [member(path, b"x")])
    refused(kit.write(tmp / "k"), root_2of2, "unsafe-path", path, cls=KitFormatError)


@pytest.mark.parametrize("kind,name", [(tarfile.SYMTYPE, "symbolic link"), (tarfile.LNKTYPE, "hard link"),
                                       (tarfile.CHRTYPE, "character device"), (tarfile.BLKTYPE, "block device"),
                                       (tarfile.DIRTYPE, "directory"), (tarfile.FIFOTYPE, "FIFO")])
def test_special_entries(good: RawKit, root_2of2: TrustRoot, tmp: Path, kind: bytes, name: str) -> None:
    good.members[0] = special_member("advisories/osv/GHSA-1.json", kind, linkname="/etc/shadow")
    result = refused(good.write(tmp / "k"), root_2of2, "not-a-regular-file", "advisories/osv/GHSA-1.json")
    assert name in result.error.message


def test_non_canonical_header(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    data = FILES["attachments/notes.txt"]
    good.members[1] = member("attachments/notes.txt", data, mtime=MTIME + 1)
    refused(good.write(tmp / "k"), root_2of2, "bad-header", "attachments/notes.txt")


def test_unsigned_kit(root_2of2: TrustRoot, tmp: Path) -> None:
    refused(raw_kit(FILES, []).write(tmp / "k"), root_2of2, "unsigned")


def test_signature_by_an_untrusted_key(stranger: Signer, root_2of2: TrustRoot, tmp: Path) -> None:
    result = refused(raw_kit(FILES, [stranger]).write(tmp / "k"), root_2of2, "untrusted-key")
    assert "untrusted key" in result.error.message


def test_too_few_signatures(key_a: Signer, root_2of2: TrustRoot, tmp: Path) -> None:
    result = refused(raw_kit(FILES, [key_a]).write(tmp / "k"), root_2of2, "threshold-not-met")
    assert "1 of 2" in result.error.message


def test_kit_for_a_channel_the_root_does_not_know(key_a: Signer, key_b: Signer, root_2of2: TrustRoot,
                                                  tmp: Path) -> None:
    refused(raw_kit(FILES, [key_a, key_b], channel="edge").write(tmp / "k"), root_2of2, "wrong-channel")


def test_kit_signed_for_another_channel(key_a: Signer, key_b: Signer, stranger: Signer, tmp: Path) -> None:
    # The root gives channel "beta" to another key; a kit claiming "beta" but signed by
    # the stable keys is not trusted for beta.
    from kit.trust import build_root, load_root_envelope
    pubs = [key_a.public_key, key_b.public_key]
    env = build_root(version=1, expires=AT.replace(year=2030), keys=pubs, root_threshold=2,
                     channels={"stable": (pubs, 2), "beta": ([stranger.public_key], 1)}, signers=[key_a, key_b])
    root = load_root_envelope(env.to_bytes())
    kit = raw_kit(FILES, [key_a, key_b], channel="beta").write(tmp / "k")
    refused(kit, root, "untrusted-key")
    refused(raw_kit(FILES, [key_a, key_b]).write(tmp / "k2"), root, "wrong-channel", channel="beta")


def test_expired_kit(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    path = good.write(tmp / "k")
    result = refused(path, root_2of2, "expired", at=AT.replace(year=2028))
    assert "2027-11-01T00:00:00Z" in result.error.message
    assert verify(path, root_2of2, at=AT).ok     # --at: an auditor checking history


def test_unknown_format_major_version(key_a: Signer, key_b: Signer, root_2of2: TrustRoot, tmp: Path) -> None:
    kit = raw_kit(FILES, [key_a, key_b])
    payload = json.loads(kit.envelope.payload)
    payload["formatVersion"] = "2.0"
    kit.envelope = dsse.sign(KIT_MANIFEST_TYPE, canonical.dumps(payload), [key_a, key_b])
    result = refused(kit.write(tmp / "k"), root_2of2, "unknown-version", cls=KitFormatError)
    assert "2.0" in result.error.message


def test_not_zstd(root_2of2: TrustRoot, tmp: Path) -> None:
    path = tmp / "k"
    path.write_bytes(b"PK\x03\x04 this is a zip file, not a kit")
    refused(path, root_2of2, "not-a-kit", cls=KitFormatError)


def test_zstd_but_not_tar(root_2of2: TrustRoot, tmp: Path) -> None:
    path = tmp / "k"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"hello world, not a tar stream at all" * 50))
    refused(path, root_2of2, "not-a-kit", cls=KitFormatError)


def test_empty_file(root_2of2: TrustRoot, tmp: Path) -> None:
    path = tmp / "k"
    path.write_bytes(b"")
    refused(path, root_2of2, "not-a-kit", cls=KitFormatError)


def _bomb(path: Path, head: bytes, zeros: int) -> Path:
    """*head* then *zeros* zero bytes (or 'A's), compressed to a few KiB without building it in memory."""
    cctx = zstandard.ZstdCompressor(level=3)
    with open(path, "wb") as fh, cctx.stream_writer(fh) as z:
        z.write(head)
        block = b"A" * (1 << 20)
        for _ in range(zeros >> 20):
            z.write(block)
    return path


def test_decompression_bomb_in_the_manifest_header_stops_at_the_header(root_2of2: TrustRoot, tmp: Path) -> None:
    head = tarstream.encode_header(MANIFEST_PATH, 20 << 30, MTIME)   # claims a 20 GiB manifest
    path = _bomb(tmp / "k", head, 256 << 20)
    assert path.stat().st_size < 64 * 1024
    result = refused(path, root_2of2, "limit-exceeded", MANIFEST_PATH, cls=KitLimitError)
    assert result.bytes_read <= 1 << 20


def test_decompression_bomb_in_an_entry_stops_at_the_declared_size(good: RawKit, root_2of2: TrustRoot,
                                                                   tmp: Path) -> None:
    # The index says 2800 bytes; the stream keeps going with 256 MiB of 'A's.
    head = good.manifest_member() + good.members[0] + good.members[1][:512]
    path = _bomb(tmp / "k", head, 256 << 20)
    result = verify(path, root_2of2)
    assert result.error is not None and result.error.entry == "attachments/notes.txt"
    assert result.bytes_read < 4 << 20


def test_declared_size_over_the_limit_is_refused_before_streaming(good: RawKit, root_2of2: TrustRoot,
                                                                  tmp: Path) -> None:
    result = refused(good.write(tmp / "k"), root_2of2, "limit-exceeded", cls=KitLimitError,
                     limits=KitLimits(max_total_size=1000))
    assert result.entries_verified == 0


def test_too_many_entries(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    refused(good.write(tmp / "k"), root_2of2, "limit-exceeded", cls=KitLimitError, limits=KitLimits(max_entries=2))


def test_sink_never_sees_bytes_before_the_signature_is_checked(stranger: Signer, root_2of2: TrustRoot,
                                                               tmp: Path) -> None:
    opened: list[str] = []

    class Sink:
        def open(self, entry):  # type: ignore[no-untyped-def]
            opened.append(entry.path)
            return None

    kit = raw_kit(FILES, [stranger]).write(tmp / "k")
    result = KitReader(kit).verify(trust=root_2of2, at=AT, sink=Sink())
    assert not result.ok and opened == []


def test_sink_learns_an_entry_failed(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    closed: list[tuple[str, bool]] = []

    class Writer:
        def __init__(self, path: str) -> None:
            self.path = path

        def write(self, chunk: memoryview) -> None:
            pass

        def close(self, verified: bool) -> None:
            closed.append((self.path, verified))

    class Sink:
        def open(self, entry):  # type: ignore[no-untyped-def]
            return Writer(entry.path)

    m = bytearray(good.members[1])
    m[600] ^= 1
    good.members[1] = bytes(m)
    KitReader(good.write(tmp / "k")).verify(trust=root_2of2, at=AT, sink=Sink())
    assert closed == [("advisories/osv/GHSA-1.json", True), ("attachments/notes.txt", False)]


def test_base64_payload_is_checked_strictly(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    env = good.envelope.to_dict()
    env["payload"] = env["payload"][:-4] + "!!!!"
    tar = member(MANIFEST_PATH, canonical.dumps(env)) + b"".join(good.members) + good.trailer
    result = verify(good.write(tmp / "k", tar), root_2of2)
    assert result.error is not None and result.error.kind == "malformed-envelope"
    assert base64  # imported for readers of this test: the payload is base64 in the envelope


def test_a_recompressed_kit_keeps_its_identity(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    path = good.write(tmp / "k")
    tar = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    again = tmp / "k19"
    again.write_bytes(zstandard.ZstdCompressor(level=19, write_checksum=False).compress(tar))
    assert again.read_bytes() != path.read_bytes()
    first, second = verify(path, root_2of2), verify(again, root_2of2)
    assert first.ok and second.ok and first.kit_id == second.kit_id


def test_a_second_zstd_frame_is_refused(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    path = good.write(tmp / "k")
    path.write_bytes(path.read_bytes() + zstandard.ZstdCompressor().compress(b"\0" * 1024))
    refused(path, root_2of2, "trailing-garbage")


# --- issue 17, principle 12: each failure has its documented kind and exit code ------------

@pytest.mark.parametrize("data", [b"", b"not json", b"   ", b"\xff\xfe", b"[1,2"], ids=["empty", "text", "spaces",
                                                                                   "binary", "cut"])
def test_an_empty_or_non_json_manifest_is_a_malformed_envelope(good: RawKit, root_2of2: TrustRoot, tmp: Path,
                                                               data: bytes) -> None:
    tar = member(MANIFEST_PATH, data) + b"".join(good.members) + good.trailer
    result = refused(good.write(tmp / "k", tar), root_2of2, "malformed-envelope", MANIFEST_PATH, cls=KitFormatError)
    assert result.error.exit_code == 3


def test_a_json_manifest_edited_out_of_canonical_form_is_still_tampered(good: RawKit, root_2of2: TrustRoot,
                                                                       tmp: Path) -> None:
    spaced = json.dumps(json.loads(good.envelope.to_bytes()), indent=1).encode()
    tar = member(MANIFEST_PATH, spaced) + b"".join(good.members) + good.trailer
    refused(good.write(tmp / "k", tar), root_2of2, "tampered-manifest", MANIFEST_PATH)


def _with_window(data: bytes, exponent: int) -> bytes:
    """A streamed frame (no single segment) whose window descriptor asks for 2**(10+exponent) bytes."""
    assert data[4] & 0x20 == 0, "single-segment frame: no window descriptor"
    assert data[4] & 0x03 == 0, "a dictionary id would move the descriptor"
    return data[:5] + bytes([exponent << 3]) + data[6:]


def test_an_oversized_zstd_window_is_limit_exceeded(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    import io
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(buf, closefd=False) as z:
        z.write(good.tar_bytes())
    path = tmp / "k"
    path.write_bytes(_with_window(buf.getvalue(), 21))          # 2 GiB
    result = refused(path, root_2of2, "limit-exceeded", cls=KitLimitError)
    assert "window" in result.error.message and str(KitLimits().max_window_size) in result.error.message
    path.write_bytes(_with_window(buf.getvalue(), 10))          # 1 MiB: the same frame reads fine
    assert verify(path, root_2of2).ok


def _negative_size(header: bytes) -> bytes:
    block = bytearray(header[:512])
    block[124:136] = b"\xff" * 12                                 # GNU base-256 with the sign bit: -1
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + header[512:]


def test_a_negative_tar_size_is_malformed_not_truncated(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    first = good.manifest_member()
    tar = _negative_size(first[:512]) + first[512:] + b"".join(good.members) + good.trailer
    result = refused(good.write(tmp / "k", tar), root_2of2, "malformed", cls=KitFormatError)
    assert "negative" in result.error.message and result.error.exit_code == 3
    tar = first + _negative_size(good.members[0][:512]) + good.members[0][512:] + b"".join(good.members[1:]) \
        + good.trailer
    result = refused(good.write(tmp / "k2", tar), root_2of2, "malformed", "advisories/osv/GHSA-1.json",
                     cls=KitFormatError)
    assert "negative" in result.error.message


def test_a_negative_pax_size_is_malformed(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    records = tarstream._pax_record("size", "-5")
    pax = tarstream._ustar(b"././@PaxHeader", len(records), MTIME, b"x") + records \
        + bytes(tarstream.padding(len(records)))
    tar = good.manifest_member() + pax + good.members[0] + b"".join(good.members[1:]) + good.trailer
    result = refused(good.write(tmp / "k", tar), root_2of2, "malformed", cls=KitFormatError)
    assert "pax size '-5'" in result.error.message


def test_a_long_entry_name_is_cut_in_the_message(good: RawKit, root_2of2: TrustRoot, tmp: Path) -> None:
    long_name = "attachments/" + "x" * 60_000
    tar = good.manifest_member() + member(long_name, b"sneaked in") + b"".join(good.members) + good.trailer
    result = verify(good.write(tmp / "k", tar), root_2of2)
    assert result.error is not None and result.error.kind == "unsafe-path"
    line = result.error.one_line()
    assert len(line) <= 700 and "\n" not in line
    assert line.startswith("unsafe-path: unsafe entry path 'attachments/xxx") and "chars]" in line
    assert result.error.entry == long_name          # the report keeps the whole name


@pytest.mark.parametrize("who", ["nobody", "stranger"])
def test_an_untrusted_manifest_is_refused_before_its_payload_is_decoded(
        root_2of2: TrustRoot, stranger: Signer, tmp: Path, monkeypatch: pytest.MonkeyPatch, who: str) -> None:
    """Cheap checks first (issue 17, principle 9): the signatures' key ids are looked at before
    the payload (tens of MiB of base64 for a large index) is decoded, re-encoded or parsed."""
    kit = raw_kit(FILES, [] if who == "nobody" else [stranger])

    def never(*args: object, **kw: object) -> None:
        raise AssertionError("the envelope was decoded before its signers were checked")

    monkeypatch.setattr(dsse.Envelope, "from_dict", classmethod(never))
    result = refused(kit.write(tmp / "k"), root_2of2, "unsigned" if who == "nobody" else "untrusted-key",
                     MANIFEST_PATH)
    assert "untrusted key" in result.error.message or who == "nobody"
