"""SPDX 3.0.1 JSON-LD (bundler.sbom.spdx3, written with spdx-python-model).

Checked three ways: spdx-python-model reads the document back (its JSON-LD deserializer
checks every value and link) and writes it again byte for byte; the official SPDX 3.0.1
JSON schema (vendored in docs/schemas, no network) accepts it; and its content matches the
SPDX 2.3 document of the same catalog (packages, purls, license decisions). Bytes are the
same across processes, hash seeds and time zones.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from bundler.sbom import spdx3 as spdx3_mod
from bundler.sbom.cyclonedx import dumps
from bundler.sbom.errors import SBOMError
from bundler.sbom.model import Catalog, Component, ImageSubject
from bundler.sbom.spdx import document_namespace, to_spdx
from bundler.sbom.spdx3 import to_spdx3
from tests.bundler.test_sbom_render import catalogs, created_times

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "docs" / "schemas" / "spdx-3.0.1.schema.json"
SCHEMA_SHA256 = "d711c811b1ff6face561cbd8cfd07cb5d581845030d4c24cf8cc7107cc8d112a"
CREATED = datetime(2026, 11, 1, tzinfo=UTC)
LAYER = "sha256:" + "c" * 64
SUBJECT = ImageSubject("127.0.0.1:5055", "stella-test/app", "sha256:" + "d" * 64, "v1", "linux/amd64")


def _comp(purl: str, name: str, licenses: tuple[str, ...], version: str = "1.0") -> Component:
    return Component(purl, name, version, "pypi", f"site/{name}", LAYER, licenses, "python")


# Every license case: an id, an expression, `+` rewritten, free text, several values (valid
# together or not), none, text license-expression chokes on, a repeated expression.
COMPONENTS = tuple(sorted((
    _comp("pkg:pypi/a@1", "a", ("MIT OR Apache-2.0",)), _comp("pkg:pypi/b@1", "b", ("GPL-2.0+",)),
    _comp("pkg:pypi/c@1", "c", ("Apache License, Version 2.0",)), _comp("pkg:pypi/e@1", "e", ()),
    _comp("pkg:pypi/f@1", "f", ("MIT", "BSD License")), _comp("pkg:pypi/g@1", "g", ("MIT", "Zlib")),
    _comp("pkg:npm/%40s/%C3%BC@2", "ü", ("( )",), "2"), _comp("pkg:pypi/h@1", "h", ("MIT OR Apache-2.0",)),
)))
CATALOG = Catalog(SUBJECT, COMPONENTS)


def load(data: bytes) -> tuple[Any, Any]:
    """spdx-python-model's own reading of the document: (model module, linked object set)."""
    import spdx_python_model
    model, objset = spdx_python_model.load_data(json.loads(data))
    assert model.__name__.endswith("v3_0_1")
    return model, objset


def by_type(objset: Any, name: str) -> list[Any]:
    return sorted((o for o in objset.foreach() if type(o).__name__ == name), key=lambda o: o._id or "")


def test_the_library_reads_it_back_and_writes_the_same_bytes() -> None:
    data = to_spdx3(CATALOG, CREATED)
    model, objset = load(data)
    assert objset.link() == set()        # every reference resolves inside the document
    again = dumps(model.JSONLDSerializer().serialize_data(objset, force_at_graph=True))
    assert again == data


def test_document_layout() -> None:
    data = to_spdx3(CATALOG, CREATED)
    doc = json.loads(data)
    assert doc["@context"] == spdx3_mod.CONTEXT and set(doc) == {"@context", "@graph"}
    model, objset = load(data)
    [document] = by_type(objset, "SpdxDocument")
    ns = document_namespace(SUBJECT.digest)
    assert document._id == f"{ns}#SPDXRef-DOCUMENT"
    assert document.name == f"{SUBJECT.repository}@{SUBJECT.digest}"
    assert document.dataLicense.simplelicensing_licenseExpression == "CC0-1.0"
    [image] = list(document.rootElement)
    assert image._id == f"{ns}#SPDXRef-Image" and image.name == "stella-test/app"
    assert image.software_primaryPurpose == model.software_SoftwarePurpose.container
    assert image.software_packageVersion == SUBJECT.digest
    assert image.software_packageUrl.startswith(f"pkg:oci/app@{SUBJECT.digest}?")
    info = document.creationInfo
    assert info.specVersion == "3.0.1" and info.created == CREATED
    assert [a.name for a in info.createdBy] == ["stella-bundler"]
    assert [t.name for t in info.createdUsing] == ["stella-bundler-stella-catalogers-4"]
    # every element is an IRI in the image's namespace; CreationInfo is the one blank node
    for item in doc["@graph"]:
        if item["type"] == "CreationInfo":
            assert item["@id"] == "_:CreationInfo0"
        else:
            assert item["spdxId"].startswith(ns + "#SPDXRef-"), item
            assert item["creationInfo"] == "_:CreationInfo0"
    ids = {o._id for o in document.element}
    assert {o["spdxId"] for o in doc["@graph"] if "spdxId" in o} == ids | {document._id}
    relationships = {r._id.split("#SPDXRef-")[1]: r for r in by_type(objset, "Relationship")}
    describes = relationships["Relationship-DOCUMENT-describes"]
    assert describes.from_ is document and list(describes.to) == [image]
    assert describes.relationshipType == model.RelationshipType.describes
    contains = relationships["Relationship-Image-contains"]
    assert contains.from_ is image and contains.relationshipType == model.RelationshipType.contains
    packages = list(contains.to)
    assert [p._id for p in packages] == [f"{ns}#SPDXRef-Package-{i}" for i in range(len(COMPONENTS))]
    for package, comp in zip(packages, COMPONENTS):
        assert (package.name, package.software_packageVersion, package.software_packageUrl) == \
            (comp.name, comp.version, comp.purl)
        assert package.comment == f"layer {LAYER}; path {comp.path}; cataloger python"
        assert package.software_primaryPurpose is None


def _licenses(objset: Any) -> dict[str, tuple[str, str | None]]:
    """package name -> (declared license expression or the NoAssertion IRI, comment)."""
    out = {}
    for rel in by_type(objset, "Relationship"):
        if rel.relationshipType.endswith("/hasDeclaredLicense"):
            [target] = list(rel.to)
            value = target if isinstance(target, str) else target.simplelicensing_licenseExpression
            out[rel.from_.name] = (value, rel.comment)
    return out


def test_licenses_follow_the_spdx_2_3_decisions() -> None:
    model, objset = load(to_spdx3(CATALOG, CREATED))
    no_assertion = model.expandedlicensing_IndividualLicensingInfo.NoAssertionLicense
    assert _licenses(objset) == {
        "a": ("MIT OR Apache-2.0", None), "h": ("MIT OR Apache-2.0", None),
        "b": ("GPL-2.0-or-later", None), "g": ("MIT AND Zlib", None),
        "c": (no_assertion, "declared: Apache License, Version 2.0"),
        "f": (no_assertion, "declared: MIT; BSD License"),
        "ü": (no_assertion, "declared: ( )"),
    }  # "e" declares nothing: no relationship
    expressions = by_type(objset, "simplelicensing_LicenseExpression")
    values = [e.simplelicensing_licenseExpression for e in expressions]
    assert sorted(values) == sorted(set(values))  # one element per distinct expression
    [document] = by_type(objset, "SpdxDocument")
    assert [p.rsplit("/", 1)[1] for p in document.profileConformance] == \
        ["core", "software", "simpleLicensing", "expandedLicensing"]


def test_no_free_text_means_no_expanded_licensing_profile() -> None:
    catalog = Catalog(SUBJECT, (_comp("pkg:pypi/a@1", "a", ("MIT",)), _comp("pkg:pypi/e@1", "e", ())))
    _, objset = load(to_spdx3(catalog, CREATED))
    [document] = by_type(objset, "SpdxDocument")
    assert [p.rsplit("/", 1)[1] for p in document.profileConformance] == ["core", "software", "simpleLicensing"]


def test_the_vendored_schema_is_the_one_fetched() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_the_official_json_schema_accepts_it() -> None:
    """Slow-ish (the schema is 230 KB of anyOf): a small document with every case, and an
    empty image. Refusals show the schema is really applied."""
    import jsonschema
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    doc = json.loads(to_spdx3(CATALOG, CREATED))
    assert [e.message for e in validator.iter_errors(doc)] == []
    empty = json.loads(to_spdx3(Catalog(SUBJECT, ()), CREATED))
    assert [e.message for e in validator.iter_errors(empty)] == []
    broken = json.loads(json.dumps(empty))
    del next(o for o in broken["@graph"] if o["type"] == "software_Package")["creationInfo"]
    assert not validator.is_valid(broken)
    broken = dict(empty, **{"@context": "https://spdx.org/rdf/3.0.0/spdx-context.jsonld"})
    assert not validator.is_valid(broken)


def test_created_is_utc_seconds() -> None:
    later = datetime(2026, 11, 1, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2, minutes=30)))
    naive = datetime(2026, 11, 1)
    for when in (later, naive, CREATED):
        doc = json.loads(to_spdx3(Catalog(SUBJECT, ()), when))
        [info] = [o for o in doc["@graph"] if o["type"] == "CreationInfo"]
        assert info["created"] == "2026-11-01T00:00:00Z"


def test_refuses_what_spdx_2_3_refuses() -> None:
    bad = Catalog(SUBJECT, (_comp("not a purl", "x", ()), _comp("pkg:pypi/ok@1", "ok", ())))
    with pytest.raises(SBOMError) as err:
        to_spdx3(bad, CREATED)
    assert err.value.kind == "invalid-sbom" and "SPDXRef-Package-0: purl 'not a purl'" in str(err.value)
    with pytest.raises(SBOMError):
        to_spdx(bad, CREATED)


def test_license_problems_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spdx3_mod, "declared_license", lambda licenses: ("MIT", None, ("bad symbol",)))
    with pytest.raises(SBOMError, match="SPDXRef-Package-0: bad symbol"):
        to_spdx3(Catalog(SUBJECT, (_comp("pkg:pypi/a@1", "a", ("MIT",)),)), CREATED)


def test_a_value_the_model_refuses_is_invalid_sbom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spdx3_mod, "SPEC_VERSION", "3.0")   # not a semantic version: the model says no
    with pytest.raises(SBOMError) as err:
        to_spdx3(CATALOG, CREATED)
    assert err.value.kind == "invalid-sbom"


@settings(max_examples=60, deadline=None)
@given(catalogs(), created_times)
def test_generated_catalogs(catalog: Catalog, created: datetime) -> None:
    """Whatever SPDX 2.3 writes, SPDX 3 writes with the same packages and license decisions
    (and round-trips through the library); whatever SPDX 2.3 refuses, SPDX 3 refuses."""
    try:
        spdx = json.loads(to_spdx(catalog, created))
    except SBOMError:
        with pytest.raises(SBOMError):
            to_spdx3(catalog, created)
        return
    data = to_spdx3(catalog, created)
    model, objset = load(data)
    assert dumps(model.JSONLDSerializer().serialize_data(objset, force_at_graph=True)) == data
    packages = {p._id.split("#")[1]: p for p in by_type(objset, "software_Package")}
    licenses = {rel.from_._id.split("#")[1]: (rel.to[0], rel.comment) for rel in by_type(objset, "Relationship")
                if rel.relationshipType.endswith("/hasDeclaredLicense")}
    for old in spdx["packages"]:
        new = packages[old["SPDXID"]]
        assert new.name == old["name"]
        assert new.software_packageVersion == old.get("versionInfo")
        assert new.software_packageUrl == old["externalRefs"][0]["referenceLocator"]
        declared = old.get("licenseDeclared")
        target, comment = licenses.get(old["SPDXID"], (None, None))
        if old["SPDXID"] == "SPDXRef-Image" or declared is None or (declared == "NOASSERTION"
                                                                     and "licenseComments" not in old):
            assert target is None
        elif declared == "NOASSERTION":
            assert target.endswith("/NoAssertionLicense") and comment == old["licenseComments"]
        else:
            assert target.simplelicensing_licenseExpression == declared and comment is None
    assert len(packages) == len(spdx["packages"])


def test_same_bytes_in_threads() -> None:
    expected = to_spdx3(CATALOG, CREATED)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(to_spdx3(CATALOG, CREATED))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


RENDER = """
import hashlib, sys
from datetime import datetime
from bundler.sbom.model import Catalog, Component, ImageSubject
from bundler.sbom.spdx3 import to_spdx3
comps = tuple(sorted(Component(f"pkg:deb/debian/p{i}@1.{i}?arch=amd64&distro=debian-12", f"p{i}", f"1.{i}",
                               "deb", "var/lib/dpkg/status", "sha256:" + "a" * 64,
                               [("MIT",), ("GPL-2.0+",), ("BSD License",), (), ("MIT", "Zlib")][i % 5], "dpkg")
                     for i in range(40)))
catalog = Catalog(ImageSubject("127.0.0.1:5055", "bench/app", "sha256:" + "b" * 64, "v1", "linux/amd64"), comps)
sys.stdout.write(hashlib.sha256(to_spdx3(catalog, datetime(2026, 11, 1))).hexdigest())
"""


def test_same_bytes_across_processes_hash_seeds_and_time_zones() -> None:
    digests = set()
    for seed, tz in (("0", "UTC"), ("1", "Asia/Kathmandu"), ("4242", "America/St_Johns"),
                     ("random", "Pacific/Chatham")):
        env = dict(os.environ, PYTHONHASHSEED=seed, TZ=tz)
        out = subprocess.run([sys.executable, "-c", RENDER], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout)
    assert len(digests) == 1
    namespace: dict[str, Any] = {}
    exec(RENDER.replace("sys.stdout.write(", "namespace['digest'] = ("), {"namespace": namespace})  # noqa: S102
    assert digests == {namespace["digest"]}


def test_real_catalog_round_trips(tmp_path: Path) -> None:
    """This machine's dpkg database and Python packages (hundreds of components, every kind
    of license value) through the library and back."""
    from tests.bundler.test_sbom_render import _layer_catalog, _machine_rootfs
    from tests.images import make_tar
    catalog = _layer_catalog(tmp_path, "machine", [make_tar(_machine_rootfs())])  # type: ignore[arg-type]
    assert len(catalog.components) > 100
    data = to_spdx3(catalog, CREATED)
    model, objset = load(data)
    assert objset.link() == set()
    assert dumps(model.JSONLDSerializer().serialize_data(objset, force_at_graph=True)) == data
    assert len(by_type(objset, "software_Package")) == len(catalog.components) + 1
