"""The direct SBOM renderer gives the same bytes as the library-based reference.

``bundler.sbom.cyclonedx.to_cyclonedx`` and ``bundler.sbom.spdx.to_spdx`` build plain
dicts; ``bundler.sbom.reference`` keeps the cyclonedx-python-lib / spdx-tools writers
they replaced as the oracle (docs/adr/0004-sbom-direct-renderer.md). Generated catalogs
(hypothesis) and real ones (the SBOM test images, this machine's dpkg database and
Python packages) must render byte for byte the same, for CycloneDX 1.7, 1.6 and SPDX 2.3;
where the reference refuses a catalog, so must the direct renderer.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from hypothesis import example, given, settings, strategies as st
from packageurl import PackageURL
from spdx_tools.spdx.parser.json.json_parser import parse_from_file
from spdx_tools.spdx.validation import external_package_ref_validator, spdx_id_validators
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from bundler.sbom import reference, spdx as spdx_mod
from bundler.sbom.catalog import catalog_layers
from bundler.sbom.cyclonedx import bom_refs, to_cyclonedx
from bundler.sbom.errors import SBOMError
from bundler.sbom.model import Catalog, Component, ImageSubject
from bundler.sbom.spdx import to_spdx

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SCHEMAS = {"1.7": SchemaVersion.V1_7, "1.6": SchemaVersion.V1_6}
FORMATS = [("cyclonedx", "1.7"), ("cyclonedx", "1.6"), ("spdx", "2.3")]


def _fast(catalog: Catalog, created: datetime, fmt: str, version: str) -> bytes:
    return to_spdx(catalog, created) if fmt == "spdx" else to_cyclonedx(catalog, created, version)


def _reference(catalog: Catalog, created: datetime, fmt: str, version: str) -> bytes:
    if fmt == "spdx":
        return reference.to_spdx(catalog, created)
    return reference.to_cyclonedx(catalog, created, version)


def _library_accepts(data: bytes, fmt: str, version: str, tmp: Path) -> None:
    """The libraries' own validators accept *data* (JSON schema / spdx-tools' full check)."""
    if fmt == "spdx":
        path = tmp / "doc.spdx.json"
        path.write_bytes(data)
        assert validate_full_spdx_document(parse_from_file(str(path))) == []
    else:
        assert JsonStrictValidator(SCHEMAS[version]).validate_str(data.decode()) is None


def assert_same(catalog: Catalog, created: datetime = CREATED) -> dict[str, bytes]:
    """Fast == reference for every format; where the reference fails, fast refuses or is valid."""
    out = {}
    for fmt, version in FORMATS:
        try:
            expected = _reference(catalog, created, fmt, version)
        except SBOMError:
            with pytest.raises(SBOMError):
                _fast(catalog, created, fmt, version)
            continue
        except Exception:  # noqa: BLE001 - the library crashed on this input
            expected = None
        if expected is None:
            # The reference cannot write this catalog at all (a purl packageurl cannot
            # parse, an empty license name, license-expression crashing on "( )"): the
            # direct renderer refuses it too, or writes a document the libraries accept.
            try:
                data = _fast(catalog, created, fmt, version)
            except SBOMError:
                continue
            import tempfile
            with tempfile.TemporaryDirectory() as tmp:
                _library_accepts(data, fmt, version, Path(tmp))
            continue
        got = _fast(catalog, created, fmt, version)
        assert got == expected, f"{fmt} {version} differs from the reference"
        out[f"{fmt}-{version}"] = got
    return out


# --- generated catalogs ---------------------------------------------------------------

SPDX_IDS = ["MIT", "Apache-2.0", "GPL-2.0-only", "GPL-2.0+", "LGPL-2.1-or-later", "BSD-3-Clause",
            "Zlib", "ISC", "MPL-2.0", "mit", "apache-2.0", "WTFPL", "CC0-1.0", "Artistic-2.0"]
EXPRESSIONS = ["MIT OR Apache-2.0", "GPL-2.0+", "(MIT)", "GPL-2.0-only WITH Classpath-exception-2.0",
               "Apache-2.0 AND (MIT OR BSD-3-Clause)", "mit or apache-2.0", "LGPL-2.1+ OR MIT"]
FREE_TEXT = ["Apache License, Version 2.0", "BSD License", "MIT License", "GPL", "LicenseRef-foo",
             "public-domain", "Artistic", "PSF", "MIT AND", "Dual License", "GPL-2+",
             "ISC License (ISCL)", "Zope Public License", "Lizenz für Ümlaute", "( )", "", " "]
ECOSYSTEMS = ["deb", "apk", "pypi", "npm"]

license_values = st.one_of(st.sampled_from(SPDX_IDS), st.sampled_from(EXPRESSIONS),
                           st.sampled_from(FREE_TEXT), st.text(min_size=1, max_size=12))
license_tuples = st.lists(license_values, max_size=3).map(tuple)
words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)
package_names = st.one_of(st.sampled_from(["zlib1g", "libssl3", "Foo_Bar", "requests", "@babel/core",
                                           "left-pad", "musl", "ünïcode", "a.b", "six"]),
                          st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/@?#"),
                                  min_size=1, max_size=8))
versions = st.one_of(st.sampled_from(["1.0", "1:2.3-4+b1", "1.2.4_git20230717-r4", "7.24.0", "0", ""]),
                     words)


@st.composite
def purls(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(ECOSYSTEMS + ["raw"]))
    name = draw(package_names)
    version = draw(versions)
    if kind == "raw":  # as written by hand: unnormalised, odd, or not a purl at all
        return draw(st.sampled_from([f"pkg:pypi/{name}@{version}", f"pkg:npm/%40scope/{name}@{version}",
                                     "pkg:pypi/Foo_Bar@1.0?b=2&a=1", "pkg:npm/a@1#1", "pkg:foo",
                                     "not a purl", "pkg:deb/debian/x@1?arch=amd64&distro=debian-12"]))
    qualifiers = {}
    if kind in ("deb", "apk"):
        qualifiers = draw(st.dictionaries(st.sampled_from(["arch", "distro", "upstream"]), words, max_size=3))
    namespace = {"deb": "debian", "apk": "alpine"}.get(kind)
    if kind == "npm" and name.startswith("@"):
        namespace, name = name.split("/", 1) if "/" in name else (None, name)
    try:
        return PackageURL(kind, namespace, name, version or None, qualifiers or None).to_string()
    except Exception:  # noqa: BLE001 - packageurl cannot write it: keep it raw (refused or not)
        return f"pkg:{kind}/{name}@{version}"


@st.composite
def components(draw: st.DrawFn, pool: list[str]) -> Component:
    purl = draw(st.sampled_from(pool)) if pool and draw(st.booleans()) else draw(purls())
    pool.append(purl)  # later components may repeat it: duplicate purls get #N refs
    return Component(purl, draw(package_names), draw(versions), draw(st.sampled_from(ECOSYSTEMS)),
                     draw(words), draw(st.sampled_from(["sha256:" + "a" * 64, "sha256:" + "b" * 64, ""])),
                     draw(license_tuples), draw(st.sampled_from(["dpkg", "apk", "python", "npm", ""])))


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    pool: list[str] = []
    comps = draw(st.lists(components(pool), max_size=12))
    if draw(st.booleans()):
        comps = sorted(comps)
    digest = "sha256:" + hashlib.sha256(draw(st.binary(max_size=4))).hexdigest()
    subject = ImageSubject(draw(st.sampled_from(["127.0.0.1:5055", "registry.example:443", "ghcr.io"])),
                           draw(st.sampled_from(["app", "org/App", "a/b/c", "ünï/cöde"])), digest,
                           draw(st.sampled_from([None, "v1", "1.0-rc.1"])),
                           draw(st.sampled_from([None, "linux/amd64", "linux/arm64/v8"])))
    return Catalog(subject, tuple(comps))


created_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                             timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=13, minutes=45)),
                                                        timezone(timedelta(hours=-5))]))

LAYER = "sha256:" + "c" * 64
SUBJECT = ImageSubject("127.0.0.1:5055", "stella-test/app", "sha256:" + "d" * 64, "v1", "linux/amd64")


def _comp(purl: str, name: str, licenses: tuple[str, ...], version: str = "1.0") -> Component:
    return Component(purl, name, version, "pypi", f"site/{name}", LAYER, licenses, "python")


@settings(max_examples=300, deadline=None)
@given(catalogs(), created_times)
@example(Catalog(SUBJECT, ()), CREATED)
@example(Catalog(SUBJECT, (
    _comp("pkg:pypi/a@1", "a", ("MIT OR Apache-2.0",)), _comp("pkg:pypi/b@1", "b", ("GPL-2.0+",)),
    _comp("pkg:pypi/c@1", "c", ("Apache License, Version 2.0",)), _comp("pkg:pypi/d@1", "d", ("BSD License",)),
    _comp("pkg:pypi/e@1", "e", ()), _comp("pkg:pypi/f@1", "f", ("MIT", "BSD License", "mit", "Apache-2.0")),
    _comp("pkg:pypi/g@1", "g", ("MIT OR Apache-2.0", "GPL-2.0+")), _comp("pkg:pypi/h@1", "h", ("LicenseRef-x",)),
    _comp("pkg:pypi/a@1", "a", ("MIT",)), _comp("pkg:pypi/Foo_Bar@1?b=2&a=1", "Foo_Bar", ("Zlib",)),
    _comp("pkg:npm/%40scope/ü@1", "ü", ("( )",)))), CREATED)
def test_generated_catalogs_render_as_the_reference(catalog: Catalog, created: datetime) -> None:
    assert_same(catalog, created)


# --- refs, refusals, the checks the SPDX renderer replicates ------------------------------

def test_colliding_refs_are_made_unique_deterministically() -> None:
    # A purl that itself ends in "#1", repeated purls, and a component with the image's
    # own purl: the library would have replaced the colliding refs with random ones.
    root = "pkg:oci/app@sha256:" + "d" * 64
    comps = (_comp("pkg:npm/a@1", "a", ()), _comp("pkg:npm/a@1", "a", ()), _comp("pkg:npm/a@1#1", "a", ()),
             _comp("pkg:npm/a@1", "a", ()), _comp(root, "app", ()))
    refs = bom_refs(comps, root)
    assert refs == ["pkg:npm/a@1", "pkg:npm/a@1#2", "pkg:npm/a@1#1", "pkg:npm/a@1#3", f"{root}#1"]
    catalog = Catalog(ImageSubject("r", "app", "sha256:" + "d" * 64), comps)
    assert_same(catalog)
    assert to_cyclonedx(catalog, CREATED) == to_cyclonedx(catalog, CREATED)


def test_refusals_match_the_reference() -> None:
    bad_purl = Catalog(SUBJECT, (_comp("pkg:foo", "foo", ()),))  # not a purl spdx-tools accepts
    with pytest.raises(SBOMError, match="SPDX document is invalid") as err:
        to_spdx(bad_purl, CREATED)
    assert err.value.kind == "invalid-sbom"
    with pytest.raises(SBOMError):
        reference.to_spdx(bad_purl, CREATED)
    not_a_purl = Catalog(SUBJECT, (_comp("not a purl", "x", ()),))
    with pytest.raises(SBOMError, match="cannot be written") as err:
        to_cyclonedx(not_a_purl, CREATED)
    assert err.value.kind == "invalid-sbom"
    with pytest.raises(ValueError):
        reference.to_cyclonedx(not_a_purl, CREATED)
    bad_digest = Catalog(ImageSubject("r", "app", "sha256:ab#cd"), ())  # a fragment in the namespace
    with pytest.raises(SBOMError, match="namespace"):
        to_spdx(bad_digest, CREATED)
    with pytest.raises(SBOMError):
        reference.to_spdx(bad_digest, CREATED)
    with pytest.raises(SBOMError, match="spec version") as err:
        to_cyclonedx(Catalog(SUBJECT, ()), CREATED, "1.5")
    assert err.value.kind == "bad-option"


def test_spdx_checks_use_the_patterns_of_spdx_tools() -> None:
    assert spdx_mod.PURL_REGEX == external_package_ref_validator.PURL_REGEX
    assert spdx_id_validators.is_valid_internal_spdx_id("SPDXRef-Package-1")
    for spdx_id in ("SPDXRef-Package-1", "SPDXRef-x_y", "SPDXRef-", "SPDXRef-a.b-C9", "Ref-1"):
        assert bool(spdx_mod._SPDX_ID.match(spdx_id)) == spdx_id_validators.is_valid_internal_spdx_id(spdx_id)


def test_license_decisions_are_memoized_per_tuple() -> None:
    from bundler.sbom.cyclonedx import license_entries
    comps = tuple(_comp(f"pkg:pypi/p{i}@1", f"p{i}", ("Apache License, Version 2.0",)) for i in range(50))
    license_entries.cache_clear()
    spdx_mod.declared_license.cache_clear()
    to_cyclonedx(Catalog(SUBJECT, comps), CREATED)
    to_spdx(Catalog(SUBJECT, comps), CREATED)
    assert license_entries.cache_info().misses == 1 and spdx_mod.declared_license.cache_info().misses == 1


def test_generated_documents_pass_the_libraries_validation(tmp_path: Path) -> None:
    comps = (_comp("pkg:pypi/a@1", "a", ("MIT OR Apache-2.0",)), _comp("pkg:pypi/b@1", "b", ("GPL-2.0+",)),
             _comp("pkg:pypi/c@1", "c", ("Apache License, Version 2.0",)), _comp("pkg:pypi/a@1", "a", ()),
             _comp("pkg:pypi/f@1", "f", ("MIT", "BSD License")), _comp("pkg:npm/%40s/ü@2", "ü", ("mit",)))
    catalog = Catalog(SUBJECT, tuple(sorted(comps)))
    for fmt, version in FORMATS:
        _library_accepts(_fast(catalog, CREATED, fmt, version), fmt, version, tmp_path)


# --- real catalogs -------------------------------------------------------------------------

def _layer_catalog(tmp_path: Path, name: str, layers: list[bytes]) -> Catalog:
    paths = []
    for i, tar in enumerate(layers):
        digest = "sha256:" + hashlib.sha256(tar).hexdigest()
        path = tmp_path / f"{name}-{i}.tar"
        path.write_bytes(tar)
        paths.append((digest, path))
    subject = ImageSubject("127.0.0.1:5055", f"stella-test/{name}",
                           "sha256:" + hashlib.sha256(name.encode()).hexdigest(), "v1", "linux/amd64")
    return catalog_layers(subject, paths)


def test_sbom_test_images_render_as_the_reference(tmp_path: Path) -> None:
    from tests.images import alpine_rootfs, debian_rootfs, layered_layers, make_tar
    deb = _layer_catalog(tmp_path, "deb", [make_tar(debian_rootfs())])
    alpine = _layer_catalog(tmp_path, "alpine", [make_tar(alpine_rootfs())])
    layered = _layer_catalog(tmp_path, "layered", [make_tar(layer.content) for layer in layered_layers()
                                                   if isinstance(layer.content, dict)])
    assert len(deb.components) >= 8 and alpine.components and layered.components
    for catalog in (deb, alpine, layered):
        docs = assert_same(catalog)
        assert set(docs) == {"cyclonedx-1.7", "cyclonedx-1.6", "spdx-2.3"}


def _machine_rootfs() -> dict[str, bytes]:
    """This machine's dpkg database and copyright files, and the venv's Python packages."""
    files = {"var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes(),
             "etc/os-release": Path("/etc/os-release").read_bytes()}
    for copyright_file in sorted(Path("/usr/share/doc").glob("*/copyright")):
        if copyright_file.is_file() and copyright_file.stat().st_size < (1 << 20):
            files[str(copyright_file)[1:]] = copyright_file.read_bytes()
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for metadata in sorted(site.glob("*.dist-info/METADATA")):
        files[f"usr/lib/python3/dist-packages/{metadata.parent.name}/METADATA"] = metadata.read_bytes()
    return files


def test_this_machines_packages_render_as_the_reference(tmp_path: Path) -> None:
    from tests.images import make_tar
    catalog = _layer_catalog(tmp_path, "machine", [make_tar(_machine_rootfs())])  # type: ignore[arg-type]
    assert len(catalog.components) > 100
    kinds = {c.licenses for c in catalog.components}
    assert len(kinds) > 10  # ids, expressions, free text, several, none
    docs = assert_same(catalog)
    spdx = json.loads(docs["spdx-2.3"])
    assert any("licenseComments" in p for p in spdx["packages"])
    _library_accepts(docs["spdx-2.3"], "spdx", "2.3", tmp_path)
    _library_accepts(docs["cyclonedx-1.7"], "cyclonedx", "1.7", tmp_path)


@pytest.mark.services
def test_pulled_test_images_render_as_the_reference(images, registries, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from bundler.oci import pull_images
    from bundler.sbom import catalog_pulled
    for ref in (images.deb, images.layered, images.alpine, images.multi):
        [img] = pull_images([ref], tmp_path / "layout", registries=registries)
        for catalog in catalog_pulled(tmp_path / "layout", img):
            assert_same(catalog)
