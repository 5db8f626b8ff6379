"""The RPM cataloger on real rpmdbs in all three formats, with rpm itself as the oracle."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bundler.sbom.catalogers.rpm import RpmCataloger
from bundler.sbom.errors import PackageDatabaseError
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro
from bundler.sbom.rpmdb import RpmdbError, parse_header, read_headers
from tests.bundler.sbom import rpmtools
from tests.bundler.sbom.rpmtools import SPECS, bdb_db, build_rpm, header_blobs, query, sqlite_db, write_ndb

LAYER = "sha256:" + "1" * 64
RHEL = Distro("rhel", "9.4")


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    rpmtools.need_rpm()
    top = tmp_path_factory.mktemp("rpmbuild")
    return [build_rpm(spec, top) for spec in SPECS]


@pytest.fixture(scope="module")
def sqlite_dir(rpms: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    dbpath = tmp_path_factory.mktemp("sqlite") / "rpm"
    sqlite_db(dbpath, rpms)
    return dbpath


@pytest.fixture(scope="module")
def blobs(sqlite_dir: Path) -> list[tuple[int, bytes]]:
    return header_blobs(sqlite_dir / "rpmdb.sqlite")


def lines(data: bytes) -> list[str]:
    """What the cataloger read, as the oracle prints it."""
    return sorted(rpmtools.expected_line([
        h.name, None if h.epoch is None else str(h.epoch), h.version, h.release, h.arch,
        h.sourcerpm, h.vendor, h.license]) for h in read_headers(data))


def catalog(path: str, data: bytes, distro: Distro | None = RHEL) -> list[Component]:
    return RpmCataloger().catalog({path: KeptFile(path, data, LAYER)}, distro, "reg/img@sha256:ab")


def test_sqlite_matches_rpm(sqlite_dir: Path) -> None:
    oracle = query(sqlite_dir)
    assert len(oracle) == len(SPECS)
    assert lines((sqlite_dir / "rpmdb.sqlite").read_bytes()) == oracle
    assert "stella-big|0|1.0|1.el9|x86_64|stella-big-1.0-1.el9.src.rpm|(none)|MIT and BSD" in oracle


@pytest.mark.parametrize(("pagesize", "big_endian"), [(512, False), (4096, False), (8192, False),
                                                       (4096, True)])
def test_berkeley_db_matches_rpm(blobs: list[tuple[int, bytes]], tmp_path: Path, pagesize: int,
                                 big_endian: bool) -> None:
    path = bdb_db(tmp_path / "rpm", blobs, pagesize=pagesize, big_endian=big_endian)
    oracle = query(tmp_path / "rpm", backend="bdb_ro")      # rpm reads the file we read
    assert len(oracle) == len(SPECS)
    assert lines(path.read_bytes()) == oracle


def test_berkeley_db_converted_by_rpm_reads_the_same(blobs: list[tuple[int, bytes]], tmp_path: Path) -> None:
    dbpath = tmp_path / "rpm"
    bdb = bdb_db(dbpath, blobs, pagesize=512).read_bytes()
    rpmtools.run("rpmdb", "--dbpath", str(dbpath), "--define", "_db_backend sqlite", "--rebuilddb")
    converted = (dbpath / "rpmdb.sqlite").read_bytes()
    assert lines(converted) == lines(bdb) == query(dbpath)


def test_ndb_matches_rpm_on_the_same_blobs(sqlite_dir: Path, blobs: list[tuple[int, bytes]],
                                           tmp_path: Path) -> None:
    path = write_ndb(tmp_path / "Packages.db", blobs)
    assert lines(path.read_bytes()) == query(sqlite_dir)


def test_components_purls_and_licenses(sqlite_dir: Path) -> None:
    path = "var/lib/rpm/rpmdb.sqlite"
    comps = {c.name: c for c in catalog(path, (sqlite_dir / "rpmdb.sqlite").read_bytes())}
    ssl = comps["openssl"]
    assert ssl.purl == ("pkg:rpm/redhat/openssl@3.0.7-24.el9?arch=x86_64&distro=rhel-9.4&epoch=1"
                        "&upstream=openssl-3.0.7-24.el9.src.rpm")
    assert (ssl.version, ssl.ecosystem, ssl.path, ssl.layer, ssl.licenses, ssl.cataloger) == (
        "1:3.0.7-24.el9", "rpm", path, LAYER, ("Apache-2.0",), "rpm")
    assert comps["tzdata"].purl.startswith("pkg:rpm/redhat/tzdata@2024a-1.el9?arch=noarch&")
    assert "epoch=0" in comps["stella-big"].purl and comps["stella-big"].version == "0:1.0-1.el9"
    assert "epoch" not in comps["bash"].purl and comps["bash"].version == "5.1.8-9.el9"
    rocky = catalog(path, (sqlite_dir / "rpmdb.sqlite").read_bytes(), Distro("rocky", "9.3"))
    assert all(c.purl.startswith("pkg:rpm/rocky/") and "distro=rocky-9.3" in c.purl for c in rocky)
    bare = catalog(path, (sqlite_dir / "rpmdb.sqlite").read_bytes(), None)
    assert all(c.purl.startswith(f"pkg:rpm/{c.name}@") for c in bare)   # no os-release: no namespace


def test_one_database_per_directory_newest_backend_first(sqlite_dir: Path, blobs: list[tuple[int, bytes]],
                                                        tmp_path: Path) -> None:
    sq = (sqlite_dir / "rpmdb.sqlite").read_bytes()
    old = write_ndb(tmp_path / "Packages.db", blobs[:1]).read_bytes()
    files = {p: KeptFile(p, d, LAYER) for p, d in [
        ("var/lib/rpm/rpmdb.sqlite", sq), ("var/lib/rpm/Packages.db", old),
        ("usr/lib/sysimage/rpm/Packages.db", old)]}
    found = RpmCataloger().catalog(files, RHEL, "img")
    assert sorted({c.path for c in found}) == ["usr/lib/sysimage/rpm/Packages.db", "var/lib/rpm/rpmdb.sqlite"]
    assert len(found) == len(SPECS) + 1


# -- hostile input: each a one-line error naming the image, layer and file ---------------

def _refused(path: str, data: bytes, says: str) -> None:
    with pytest.raises(PackageDatabaseError) as caught:
        catalog(path, data)
    line = caught.value.one_line()
    assert "\n" not in line and says in line, line
    assert f"layer {LAYER}" in line and path in line and "reg/img@sha256:ab" in line
    assert caught.value.kind == "bad-package-db"


def _bdb(blobs: list[tuple[int, bytes]], tmp_path: Path, pagesize: int = 512) -> bytearray:
    return bytearray(bdb_db(tmp_path / "rpm", blobs, pagesize=pagesize).read_bytes())


def _pages_of_type(data: bytearray, size: int, kind: int) -> list[int]:
    return [n for n in range(1, len(data) // size) if data[n * size + 25] == kind]


def test_bdb_overflow_loop_is_refused(blobs: list[tuple[int, bytes]], tmp_path: Path) -> None:
    data = _bdb(blobs, tmp_path)
    overflow = _pages_of_type(data, 512, 7)
    chained = [n for n in overflow if struct.unpack_from("<I", data, n * 512 + 16)[0]]
    struct.pack_into("<I", data, chained[0] * 512 + 16, chained[0])          # next page: itself
    _refused("var/lib/rpm/Packages", bytes(data), "a loop")


def test_bdb_corrupt_pages_are_refused(blobs: list[tuple[int, bytes]], tmp_path: Path) -> None:
    data = _bdb(blobs, tmp_path)
    hash_page = _pages_of_type(data, 512, 13)[0]
    bad = bytearray(data)
    struct.pack_into("<H", bad, hash_page * 512 + 20, 400)                  # entries overflow the page
    _refused("var/lib/rpm/Packages", bytes(bad), "do not fit a page")
    bad = bytearray(data)
    struct.pack_into("<I", bad, 32, 10_000)                                  # last page past the end
    _refused("var/lib/rpm/Packages", bytes(bad), "truncated")
    bad = bytearray(data)
    for n in _pages_of_type(data, 512, 7):
        bad[n * 512 + 25] = 0                                                # chain into a non-overflow page
    _refused("var/lib/rpm/Packages", bytes(bad), "in an overflow chain")
    _refused("var/lib/rpm/Packages", bytes(data[:512 * 3]), "truncated")


def test_huge_header_claims_are_refused(blobs: list[tuple[int, bytes]], tmp_path: Path) -> None:
    blob = bytearray(blobs[0][1])
    struct.pack_into(">I", blob, 0, 0x7FFFFFFF)
    with pytest.raises(RpmdbError, match="2147483647 index entries"):
        parse_header(bytes(blob))
    struct.pack_into(">II", blob, 0, 1000, 0x0FFFFFFF)
    with pytest.raises(RpmdbError, match="but the blob has"):
        parse_header(bytes(blob))
    path = write_ndb(tmp_path / "Packages.db", [(1, bytes(blob))])
    _refused("usr/lib/sysimage/rpm/Packages.db", path.read_bytes(), "header 1: header claims 1000 entries")


def test_header_entry_outside_its_data_is_refused(blobs: list[tuple[int, bytes]]) -> None:
    blob = bytearray(blobs[0][1])
    il, dl = struct.unpack_from(">II", blob)
    for i in range(il):
        tag = struct.unpack_from(">i", blob, 8 + 16 * i)[0]
        if tag == 1000:                                                      # NAME
            struct.pack_into(">i", blob, 8 + 16 * i + 8, dl + 100)
    with pytest.raises(RpmdbError, match="tag 1000: offset"):
        parse_header(bytes(blob))
    unterminated = struct.pack(">II iIii", 1, 3, 1000, 6, 0, 1) + b"abc"   # NAME without its NUL
    with pytest.raises(RpmdbError, match="not terminated"):
        parse_header(unterminated)
    with pytest.raises(RpmdbError, match="no name, version or release"):
        parse_header(struct.pack(">II iIii", 1, 4, 1000, 6, 0, 1) + b"abc\0")


def test_ndb_corruption_is_refused(blobs: list[tuple[int, bytes]], tmp_path: Path) -> None:
    data = bytearray(write_ndb(tmp_path / "Packages.db", blobs).read_bytes())
    flipped = bytearray(data)
    flipped[4096 + 100] ^= 0xFF                                              # a byte of the first blob
    _refused("var/lib/rpm/Packages.db", bytes(flipped), "Adler-32 mismatch")
    slot = bytearray(data)
    struct.pack_into("<I", slot, 32 + 8, 1 << 30)                            # blob far past the end
    _refused("var/lib/rpm/Packages.db", bytes(slot), "outside the file")
    _refused("var/lib/rpm/Packages.db", bytes(data[:4096 + 64]), "outside the file")
    struct.pack_into("<I", slot, 12, 1 << 20)                                # a million slot pages
    _refused("var/lib/rpm/Packages.db", bytes(slot), "slot pages")


def test_sqlite_corruption_is_refused(sqlite_dir: Path) -> None:
    data = (sqlite_dir / "rpmdb.sqlite").read_bytes()
    _refused("var/lib/rpm/rpmdb.sqlite", data[:len(data) // 3], "SQLite cannot read it")
    _refused("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\0" + b"\xff" * 4000, "SQLite cannot read it")
    _refused("var/lib/rpm/rpmdb.sqlite", b"\0" * 8192, "not an rpmdb")


def test_sqlite_packages_view_is_refused(tmp_path: Path) -> None:
    import sqlite3
    path = tmp_path / "rpmdb.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIEW Packages AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                 "SELECT i AS hnum, x'00' AS blob FROM n")
    conn.commit()
    conn.close()
    _refused("var/lib/rpm/rpmdb.sqlite", path.read_bytes(), "no Packages table")


def test_sqlite_write_ahead_log_is_read(rpms: list[Path], blobs: list[tuple[int, bytes]],
                                        tmp_path: Path) -> None:
    import sqlite3
    dbpath = tmp_path / "rpm"
    db = sqlite_db(dbpath, rpms[:1])                                       # openssl only
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    bash = next(b for _n, b in blobs if parse_header(b).name == "bash")
    conn.execute("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", (9, bash))
    conn.commit()
    main, wal = db.read_bytes(), db.with_name("rpmdb.sqlite-wal").read_bytes()
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "rpmdb.sqlite").write_bytes(main)
    (snapshot / "rpmdb.sqlite-wal").write_bytes(wal)
    conn.close()
    assert wal and len(query(snapshot)) == 2                               # rpm sees the logged row
    path = "var/lib/rpm/rpmdb.sqlite"
    files = {path: KeptFile(path, main, LAYER), path + "-wal": KeptFile(path + "-wal", wal, LAYER)}
    both = RpmCataloger().catalog(files, RHEL, "img")
    assert sorted(c.name for c in both) == ["bash", "openssl"]
    assert [c.name for c in catalog(path, main)] == ["openssl"]


def test_rpmdb_over_the_file_limit_names_file_and_layer(tmp_path: Path) -> None:
    from bundler.sbom.catalog import catalog_layers
    from bundler.sbom.errors import LayerLimitError
    from bundler.sbom.layers import LayerLimits
    from bundler.sbom.model import ImageSubject
    from tests.images import make_tar
    blob = tmp_path / "layer.tar"
    blob.write_bytes(make_tar({"var/lib/rpm/Packages": b"\0" * (2 << 20)}))
    subject = ImageSubject("reg", "img", "sha256:" + "a" * 64)
    with pytest.raises(LayerLimitError) as caught:
        catalog_layers(subject, [(LAYER, blob)], limits=LayerLimits(max_file_bytes=1 << 20))
    line = caught.value.one_line()
    assert "var/lib/rpm/Packages" in line and LAYER in line and str(2 << 20) in line


# -- fuzz: damaged real databases give RpmdbError or packages, never another exception ----

_FUZZ_INPUTS: dict[str, bytes] = {}     # the undamaged files, made once
_DAMAGE = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                   min_size=1, max_size=8)


def _damaged(data: bytes, hits: list[tuple[int, int]], cut: int) -> bytes:
    out = bytearray(data)
    for pos, value in hits:
        out[pos % len(out)] = value
    return bytes(out[:max(1, len(out) - cut)])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hits=_DAMAGE, cut=st.sampled_from([0, 0, 0, 1, 100, 4096]), kind=st.sampled_from(["bdb", "ndb", "blob"]))
def test_damaged_databases_never_crash(blobs: list[tuple[int, bytes]], tmp_path_factory: pytest.TempPathFactory,
                                       hits: list[tuple[int, int]], cut: int, kind: str) -> None:
    originals = _FUZZ_INPUTS.get(kind)
    if originals is None:
        work = tmp_path_factory.mktemp("fuzz")
        _FUZZ_INPUTS["bdb"] = bdb_db(work / "rpm", blobs, pagesize=512).read_bytes()
        _FUZZ_INPUTS["ndb"] = write_ndb(work / "Packages.db", blobs).read_bytes()
        _FUZZ_INPUTS["blob"] = blobs[0][1]
        originals = _FUZZ_INPUTS[kind]
    data = _damaged(originals, hits, cut)
    try:
        if kind == "blob":
            parse_header(data)
        else:
            read_headers(data)
    except RpmdbError:
        pass
