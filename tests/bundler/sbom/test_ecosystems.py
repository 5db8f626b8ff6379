"""Java, Ruby, PHP, Rust and .NET catalogers on real files, through the layer reader (no services)."""

from __future__ import annotations

import gzip
import io
import logging
import tarfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from bundler.sbom.catalog import catalog_layers
from bundler.sbom.catalogers.dotnet import DotnetCataloger
from bundler.sbom.catalogers.golang import GoCataloger
from bundler.sbom.catalogers.java import JavaCataloger
from bundler.sbom.catalogers.php import ComposerCataloger
from bundler.sbom.catalogers.ruby import RubyCataloger
from bundler.sbom.catalogers.rust import RustCataloger
from bundler.sbom.errors import LayerLimitError
from bundler.sbom.javaarchive import ArchiveLimits, read_archive
from bundler.sbom.model import Component, ImageSubject
from bundler.sbom.probe import STEP
from tests.bundler.sbom import ecosystems as eco
from tests.bundler.sbom.test_go_binaries import fake_go_binary
from tests.images import make_tar

SUBJECT = ImageSubject("127.0.0.1:5000", "eco", "sha256:" + "e" * 64)
CATALOGERS = (JavaCataloger(), RubyCataloger(), ComposerCataloger(), DotnetCataloger(), RustCataloger(),
              GoCataloger())


def _catalog(tmp_path: Path, *layers: dict[str, bytes], modes: dict[str, int] | None = None) -> list[Component]:
    paths = []
    for i, files in enumerate(layers):
        tar = make_tar(files)
        if modes:                    # make_tar: bin/ 0o755, the rest 0o644
            src, out = tarfile.open(fileobj=io.BytesIO(tar)), io.BytesIO()
            with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as dst:
                for m in src.getmembers():
                    m.mode = modes.get(m.name, m.mode)
                    dst.addfile(m, src.extractfile(m) if m.isreg() else None)
            tar = out.getvalue()
        path = tmp_path / f"layer{i}"
        path.write_bytes(gzip.compress(tar, 1, mtime=0))
        paths.append((f"sha256:{i:064x}", path))
    return list(catalog_layers(SUBJECT, paths, catalogers=CATALOGERS).components)


def _layer(i: int) -> str:
    return f"sha256:{i:064x}"


# -- Java ----------------------------------------------------------------------------------

def test_debian_jars_name_what_their_pom_properties_and_debian_maven_repo_say(tmp_path: Path) -> None:
    files = {f"opt/app/lib/{name}": eco.debian_jar(name) for name in eco.JARS}
    found = {(c.purl, c.path, c.layer, c.ecosystem) for c in _catalog(tmp_path, files)}
    expected = set()
    for name in eco.JARS:
        oracle = eco.pom_oracle(Path("/usr/share/java") / name)
        assert oracle and eco.maven_repo_oracle(name) <= oracle     # Debian's own coordinates agree
        expected |= {(f"pkg:maven/{g}/{a}@{v}", f"opt/app/lib/{name}", _layer(0), "maven") for g, a, v in oracle}
    assert found == expected


def test_spring_boot_fat_jar_lists_its_nested_jars(tmp_path: Path) -> None:
    comps = _catalog(tmp_path, {"app/shop.jar": eco.spring_boot_jar()})
    got = {(c.purl, c.path) for c in comps}
    assert ("pkg:maven/com.example/shop@2.4.1", "app/shop.jar") in got
    assert ("pkg:maven/org.apache.commons/commons-text@1.9", "app/shop.jar!/BOOT-INF/lib/commons-text-1.9.jar") in got
    for name in eco.JARS[:2]:
        for g, a, v in eco.pom_oracle(Path("/usr/share/java") / name):
            assert (f"pkg:maven/{g}/{a}@{v}", f"app/shop.jar!/BOOT-INF/lib/{name}") in got
    assert len(got) == 4


def test_ear_with_war_with_jar(tmp_path: Path) -> None:
    war = eco.make_zip({"WEB-INF/web.xml": b"<web-app/>", "WEB-INF/lib/commons-text-1.9.jar": eco.commons_text_1_9()})
    ear = eco.make_zip({"META-INF/application.xml": b"<application/>", "shop.war": war})
    comps = _catalog(tmp_path, {"srv/shop.ear": ear})
    assert [(c.purl, c.path) for c in comps] == [
        ("pkg:maven/org.apache.commons/commons-text@1.9", "srv/shop.ear!/shop.war!/WEB-INF/lib/commons-text-1.9.jar")]


def test_manifest_then_file_name_when_there_is_no_pom_properties(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    by_manifest = eco.make_zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\nBundle-SymbolicName: org.acme."
                                b"widgets;singleton:=true\nBundle-Version: 4.2.0\nBundle-License: EPL-2.0\n"})
    by_name = eco.make_zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n"})
    nothing = eco.make_zip({"x.txt": b"x"})
    with caplog.at_level(logging.INFO):
        comps = _catalog(tmp_path, {"plugins/widgets.jpi": by_manifest, "lib/joda-time-2.10.14.jar": by_name,
                                    "lib/mystery.hpi": nothing})
    (record,) = caplog.records              # an archive that names no version: information, not a warning
    assert record.levelno == logging.INFO and record.getMessage().endswith(
        "lib/mystery.hpi: skipped: no pom.properties, manifest version or versioned file name")
    assert {(c.purl, c.licenses) for c in comps} == {
        ("pkg:maven/org.acme/widgets@4.2.0", ("EPL-2.0",)), ("pkg:maven/joda-time@2.10.14", ())}


def test_a_whiteout_removes_a_jar(tmp_path: Path) -> None:
    jar = eco.debian_jar("commons-io.jar")
    comps = _catalog(tmp_path, {"lib/commons-io.jar": jar, "lib/keep.jar": eco.commons_text_1_9()},
                     {"lib/.wh.commons-io.jar": b""})
    assert [c.purl for c in comps] == ["pkg:maven/org.apache.commons/commons-text@1.9"]


def test_jar_nested_50_deep_stops_at_the_limit_and_names_where(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        comps = _catalog(tmp_path, {"app/deep.jar": eco.nested(50)})
    depth = ArchiveLimits().max_depth
    assert sorted(c.name for c in comps) == sorted(f"org.example:level{i}" for i in range(1, depth + 2))
    chain = "!/".join(["app/deep.jar"] + [f"lib/level{i}.jar" for i in range(2, depth + 3)])
    assert f"image {SUBJECT} layer {_layer(0)}: {chain}: skipped: archive nested more than {depth} deep" \
        in caplog.text


def test_zip_bomb_is_bounded_and_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bomb = eco.make_zip({"lib/bomb.jar": b"\0" * (300 << 20), "META-INF/maven/a/b/pom.properties":
                         b"groupId=a\nartifactId=b\nversion=1\n"})
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    with caplog.at_level(logging.WARNING):
        comps = _catalog(tmp_path, {"app/bomb.jar": bomb})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [c.purl for c in comps] == ["pkg:maven/a/b@1"]
    assert "app/bomb.jar!/lib/bomb.jar: skipped: 314572800 bytes uncompressed, limit 134217728" in caplog.text
    assert peak < 64 << 20


def test_a_big_nested_archive_is_spooled_not_held(tmp_path: Path) -> None:
    """A 48 MiB nested jar (a stored entry of zeros) compresses to little in its parent; it
    is copied to a temporary file in pieces, so memory stays far below its size."""
    inner = eco.make_zip({"data/blob.bin": b"\0" * (48 << 20),
                          "META-INF/maven/big/inner/pom.properties": b"groupId=big\nartifactId=inner\nversion=3\n"},
                         stored=True)
    outer = eco.make_zip({"lib/inner.jar": inner})
    assert len(outer) < 1 << 20
    del inner
    tracemalloc.start()
    found = read_archive(io.BytesIO(outer), "outer.jar")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(p.where, p.artifact) for p in found.packages] == [("lib/inner.jar", "inner")]
    assert peak < 24 << 20


def test_lying_sizes_cannot_make_us_inflate_more(tmp_path: Path) -> None:
    """An entry whose header claims 1 KiB but inflates to 300 MiB: zipfile stops at the
    claimed size and the CRC fails; the entry is a recorded skip, the archive still read."""
    data = bytearray(eco.make_zip({"lib/liar.jar": b"\0" * (300 << 20)}))
    name_at = data.rfind(b"lib/liar.jar")                 # central directory entry: patch its size
    header = data.rfind(b"PK\x01\x02", 0, name_at)
    data[header + 24:header + 28] = (1024).to_bytes(4, "little")
    found = read_archive(io.BytesIO(bytes(data)), "x.jar", ArchiveLimits(max_nested_bytes=16 << 20))
    assert found.packages == []
    assert [(s.where, s.reason) for s in found.skips] == [
        ("", "no pom.properties, manifest version or versioned file name"),
        ("lib/liar.jar", "unreadable entry (BadZipFile: Bad CRC-32 for file 'lib/liar.jar')")]


def test_entry_names_that_escape_are_ignored_and_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    jar = eco.make_zip({"../../evil/pom.jar": eco.commons_text_1_9(), "/abs/x.jar": eco.commons_text_1_9(),
                        "META-INF/maven/ok/ok/pom.properties": b"groupId=ok\nartifactId=ok\nversion=2\n"})
    with caplog.at_level(logging.WARNING):
        comps = _catalog(tmp_path, {"app/x.jar": jar})
    assert [c.purl for c in comps] == ["pkg:maven/ok/ok@2"]
    assert "app/x.jar!/../../evil/pom.jar: skipped: entry name escapes the archive; ignored" in caplog.text
    assert "app/x.jar!//abs/x.jar: skipped: entry name escapes the archive; ignored" in caplog.text


@pytest.mark.parametrize("data", [b"", b"garbage" * 100, b"PK\x03\x04" + b"\xff" * 200,
                                  b"PK\x05\x06" + b"\xff" * 18])
def test_garbage_named_jar_is_a_recorded_skip(tmp_path: Path, caplog: pytest.LogCaptureFixture, data: bytes) -> None:
    with caplog.at_level(logging.WARNING):
        comps = _catalog(tmp_path, {"lib/broken.jar": data})
    assert comps == []
    if data:
        assert f"layer {_layer(0)}: lib/broken.jar: skipped:" in caplog.text


def test_too_many_entries_is_refused_before_reading_them() -> None:
    jar = eco.make_zip({f"f{i}": b"" for i in range(50)})
    found = read_archive(io.BytesIO(jar), "x.jar", ArchiveLimits(max_entries=10))
    assert [s.reason for s in found.skips] == ["50 entries, limit 10"]
    lying = bytearray(jar)                    # the end record says 5 entries; the directory holds 50
    at = lying.rfind(b"PK\x05\x06")
    lying[at + 8:at + 12] = (5).to_bytes(2, "little") * 2
    found = read_archive(io.BytesIO(bytes(lying)), "x.jar", ArchiveLimits(max_entries=10, max_directory_bytes=1000))
    assert [s.reason for s in found.skips][0].startswith("central directory of ")


# -- Ruby, PHP, .NET, Rust -----------------------------------------------------------------

def test_gemspecs_from_debian_match_rubygems(tmp_path: Path) -> None:
    specs = sorted(Path("/usr/share/rubygems-integration/all/specifications").glob("*.gemspec")) + \
        sorted(Path("/usr/lib/ruby/gems").glob("*/specifications/default/*.gemspec"))
    if not specs:
        eco.need("gem-specifications-from-ruby-rack")
    files = {f"usr/lib/ruby/gems/3.1.0/specifications/{'default/' if 'default' in str(p) else ''}{p.name}":
             p.read_bytes() for p in specs}
    comps = _catalog(tmp_path, files)
    assert {(c.name, c.version, c.licenses) for c in comps} == eco.gemspec_oracle(specs)
    rack = [c for c in comps if c.name == "rack"]
    assert rack and rack[0].purl.startswith("pkg:gem/rack@2.") and rack[0].licenses == ("MIT",)


def test_gemspec_is_never_evaluated(tmp_path: Path) -> None:
    """Only literals are read: interpolation and calls are not values; the file name is."""
    marker = tmp_path / "pwned"
    evil = (f'Gem::Specification.new do |s|\n  s.name = "x#{{`touch {marker}`}}"\n'
            '  s.version = File.read("/etc/passwd")\n  s.licenses = ["MIT", `id`]\nend\n').encode()
    comps = _catalog(tmp_path, {"gems/specifications/evil-1.0.gemspec": evil})
    assert [(c.name, c.version, c.licenses) for c in comps] == [("evil", "1.0", ())]
    assert not marker.exists()


def test_composer_installed_json_v2_and_v1(tmp_path: Path) -> None:
    installed, listed = eco.composer_project(tmp_path)
    data = installed.read_bytes()
    import json
    v1 = json.dumps(json.loads(data)["packages"]).encode()      # Composer 1 wrote the bare list
    comps = _catalog(tmp_path, {"srv/app/vendor/composer/installed.json": data,
                                "old/vendor/composer/installed.json": v1})
    for where in ("srv/app/", "old/"):
        assert {(c.name, c.version) for c in comps if c.path.startswith(where)} == listed
    semver = [c for c in comps if c.name == "acme/semver"][0]
    assert semver.purl == "pkg:composer/acme/semver@v3.3.2" and semver.licenses == ("MIT", "Apache-2.0")


def test_dotnet_deps_json_packages_only(tmp_path: Path) -> None:
    comps = _catalog(tmp_path, {"app/Python.Runtime.deps.json": eco.DEPS_JSON.read_bytes()})
    assert {(c.name, c.version) for c in comps} == eco.deps_json_oracle(eco.DEPS_JSON)
    assert "pkg:nuget/System.Memory@4.6.3" in {c.purl for c in comps} and len(comps) == 9


def test_json_nested_beyond_the_parser_is_passed_over_not_fatal(tmp_path: Path) -> None:
    """A package.json, installed.json or deps.json nested 100,000 deep (json.loads raises RecursionError)
    is no package: the image is still cataloged, the other files' packages listed."""
    deep = b"[" * 100_000 + b"]" * 100_000
    comps = _catalog(tmp_path, {"app/node_modules/evil/package.json": deep,
                                "srv/vendor/composer/installed.json": deep,
                                "app/Evil.deps.json": deep,
                                "app/Python.Runtime.deps.json": eco.DEPS_JSON.read_bytes()})
    assert {(c.name, c.version) for c in comps} == eco.deps_json_oracle(eco.DEPS_JSON)


def test_rust_audit_data_and_cargo_lock(tmp_path: Path) -> None:
    binary = eco.RUST_BINARY.read_bytes()
    comps = _catalog(tmp_path, {"bin/stella-audited": binary, "bin/not-audited": binary[:4096],
                                "src/app/Cargo.lock": (eco.DATA / "rust" / "Cargo.lock").read_bytes()})
    oracle = eco.dep_v0_oracle(eco.RUST_BINARY, tmp_path)
    assert {(c.name, c.version) for c in comps if c.path == "bin/stella-audited"} == oracle
    assert {(c.name, c.version) for c in comps if c.path == "src/app/Cargo.lock"} == oracle
    assert {c.purl for c in comps} == {"pkg:cargo/stella-audited@1.2.0", "pkg:cargo/stella-helper@0.3.1"}


@pytest.mark.parametrize("at", [4096, STEP - 30, STEP + 100])      # inside, across and past a 4 MiB piece
def test_audit_data_is_found_wherever_it_sits_and_decoys_are_passed(tmp_path: Path, at: int) -> None:
    real = zlib.compress(b'{"packages":[{"name":"serde","version":"1.0.200","source":"crates.io"}]}', 7)
    decoy = zlib.compress(b'{"packages": not json at all', 9)
    body = b"\x7fELF" + b"\x90" * 1000 + decoy + b"\x78\xda\x00garbage"
    binary = body + b"\x90" * (at - len(body)) + real + b"\x90" * 3000
    comps = _catalog(tmp_path, {"bin/app": binary})
    assert [(c.purl, c.path) for c in comps] == [("pkg:cargo/serde@1.0.200", "bin/app")]


def test_go_and_rust_binaries_in_one_layer_are_both_found(tmp_path: Path) -> None:
    """The Go probe and the Rust tap share one read of every executable."""
    rust = eco.RUST_BINARY.read_bytes()
    comps = _catalog(tmp_path, {"bin/go-app": fake_go_binary(8192), "bin/rust-app": rust,
                                "bin/rust-copy": b"\0" * 5000 + rust},
                     modes={"bin/rust-copy": 0o644})        # not executable: not looked into
    got = {(c.path, c.ecosystem) for c in comps}
    assert got == {("bin/go-app", "golang"), ("bin/rust-app", "cargo")}


def test_a_huge_deps_json_is_refused_naming_file_and_layer(tmp_path: Path) -> None:
    path = tmp_path / "big.tar.gz"
    with gzip.open(path, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo("app/Huge.deps.json")
        info.size = 100 << 20
        tar.addfile(info, io.BytesIO(b" " * info.size))
    with pytest.raises(LayerLimitError, match=rf"layer sha256:0+: app/Huge.deps.json is {100 << 20} bytes, limit"):
        catalog_layers(SUBJECT, [(f"sha256:{0:064x}", path)], catalogers=CATALOGERS)


@pytest.mark.parametrize("path,data", [
    ("vendor/composer/installed.json", b"{not json"), ("vendor/composer/installed.json", b'{"packages": 5}'),
    ("vendor/composer/installed.json", b'[{"name": "novendor", "version": "1"}, 7, {"name": "a/b"}]'),
    ("x/App.deps.json", b"[]"), ("x/App.deps.json", b'{"libraries": {"NoVersion": {"type": "package"}}}'),
    ("src/Cargo.lock", b"[[package]]\nname = 1\n"), ("src/Cargo.lock", b"\xff\xfe not toml"),
    ("gems/specifications/x.gemspec", b"\x00\x01 nothing"),
])
def test_broken_files_give_no_components_and_no_crash(tmp_path: Path, path: str, data: bytes) -> None:
    assert _catalog(tmp_path, {path: data}) == []


def test_real_jar_is_read_the_same_from_disk_and_from_a_layer(tmp_path: Path) -> None:
    jar = eco.debian_jar("guava.jar")
    direct = read_archive(io.BytesIO(jar), "guava.jar")
    comps = _catalog(tmp_path, {"guava.jar": jar})
    assert {(p.group, p.artifact, p.version) for p in direct.packages} == \
        {tuple(c.name.split(":")) + (c.version,) for c in comps}
    assert zipfile.is_zipfile(io.BytesIO(jar))
