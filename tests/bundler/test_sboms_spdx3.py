"""SPDX 3.0.1 SBOMs: the opt-in kit.yaml setting ``sboms: [cyclonedx, spdx, spdx3]`` and
``stella-bundler sbom --format spdx3`` (docs/sbom.md, docs/kit-yaml.md).

A kit that asks for SPDX 3 carries ``sboms/<manifest hex>.spdx3.json`` beside the other two
and is otherwise the same kit; a kit that does not is unchanged, and so are the render
cache's CycloneDX and SPDX 2.3 files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bundler import images as images_mod
from bundler.build import build_kit
from bundler.cli import cli as bundler_cli
from bundler.commands.sbom import sbom
from bundler.errors import SpecError
from bundler.spec import load_spec
from kit.crypto import generate
from kit.format import KitReader
from tests.bundler.test_releases import Capture, write_spec
from tests.images import Published
from tests.kit.conftest import make_root
from tests.kit.craft import AT

OPT_IN = "sboms: [spdx3, cyclonedx, spdx]\n"
KEY = generate()


def _spec(tmp_path: Path, sboms: str) -> Path:
    spec = tmp_path / "kit.yaml"
    spec.write_text("kit: {name: shop, channel: stable, sequence: 1, created: 2026-11-01T00:00:00Z,\n"
                    "      expires: 2027-11-01T00:00:00Z}\n" + sboms)
    return spec


def test_default_is_cyclonedx_and_spdx(tmp_path: Path) -> None:
    assert load_spec(_spec(tmp_path, "")).sboms == ("cyclonedx", "spdx")


def test_spdx3_is_opt_in_and_order_does_not_matter(tmp_path: Path) -> None:
    assert load_spec(_spec(tmp_path, OPT_IN)).sboms == ("cyclonedx", "spdx", "spdx3")
    assert load_spec(_spec(tmp_path, "sboms: [cyclonedx, spdx]\n")).sboms == ("cyclonedx", "spdx")


@pytest.mark.parametrize("sboms, message", [
    ("sboms: spdx3\n", "sboms must be a list of formats (cyclonedx, spdx, spdx3)"),
    ("sboms: [cyclonedx, spdx, spdx4]\n", "sboms: unknown format 'spdx4' (allowed: cyclonedx, spdx, spdx3)"),
    ("sboms: [cyclonedx, spdx, spdx]\n", "sboms: a format is listed twice"),
    ("sboms: [cyclonedx, spdx3]\n", "sboms: 'spdx' cannot be left out"),
    ("sboms: [spdx]\n", "sboms: 'cyclonedx' cannot be left out"),
    ("sboms: [cyclonedx, spdx, 3]\n", "sboms must be a list of formats"),
])
def test_bad_sboms_are_refused(tmp_path: Path, sboms: str, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_spec(_spec(tmp_path, sboms))


def _load(data: bytes) -> tuple[Any, Any]:
    import spdx_python_model
    model, objset = spdx_python_model.load_data(json.loads(data))
    assert objset.link() == set()
    return model, objset


def _build(images: Published, work: Path, cache: Path, extra: str) -> dict[str, bytes]:
    spec = load_spec(write_spec(work / "spec", images, extra))
    kit = build_kit(spec, [KEY], work / "shop.stella-kit", cache_dir=cache).path
    capture = Capture()
    result = KitReader(kit).verify(trust=make_root([KEY], 1), at=AT, sink=capture)
    assert result.ok, result.error and result.error.one_line()
    types = {e.path: e.media_type for e in result.manifest.entries}
    capture.data["#types"] = json.dumps(types).encode()
    capture.data["#kit"] = str(kit).encode()
    return capture.data


@pytest.fixture(scope="module")
def kits(images: Published, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("spdx3-kits")
    default = _build(images, work / "default", work / "cache-default", "")
    opt_in = _build(images, work / "opt-in", work / "cache-opt-in", OPT_IN)
    return {"default": default, "opt_in": opt_in, "work": work}


def _entries(data: dict[str, bytes]) -> dict[str, bytes]:
    return {p: b for p, b in data.items() if not p.startswith(("#", "provenance/"))}


@pytest.mark.services
def test_opted_in_kit_adds_spdx3_beside_the_others(kits: dict[str, Any]) -> None:
    default, opt_in = _entries(kits["default"]), _entries(kits["opt_in"])
    added = sorted(set(opt_in) - set(default))
    assert added and all(p.startswith("sboms/") and p.endswith(".spdx3.json") for p in added)
    assert set(default) <= set(opt_in)
    for path, data in default.items():         # everything else is unchanged; releases gain sboms.spdx3
        if path.startswith("releases/") and path.endswith(".json"):
            mine = json.loads(opt_in[path])
            for comp in mine["components"]:
                for manifest in comp["manifests"]:
                    manifest["sboms"].pop("spdx3")
            assert mine == json.loads(data), path
        else:
            assert opt_in[path] == data, path
    cdx = sorted(p for p in default if p.endswith(".cdx.json"))
    assert [p.replace(".cdx.json", ".spdx3.json") for p in cdx] == added
    types = json.loads(kits["opt_in"]["#types"])
    assert {types[p] for p in added} == {images_mod.SPDX3_TYPE} == {"application/spdx+json"}


@pytest.mark.services
def test_spdx3_entries_describe_their_manifest(kits: dict[str, Any]) -> None:
    data = _entries(kits["opt_in"])
    for path in sorted(p for p in data if p.endswith(".spdx3.json")):
        hexd = path.removeprefix("sboms/").removesuffix(".spdx3.json")
        _, objset = _load(data[path])
        [document] = [o for o in objset.foreach() if type(o).__name__ == "SpdxDocument"]
        [image] = list(document.rootElement)
        assert image.software_packageVersion == f"sha256:{hexd}"
        assert image.software_primaryPurpose.endswith("/container")
        spdx = json.loads(data[f"sboms/{hexd}.spdx.json"])
        purls = sorted(p["externalRefs"][0]["referenceLocator"] for p in spdx["packages"])
        mine = sorted(o.software_packageUrl for o in objset.foreach() if type(o).__name__ == "software_Package")
        assert mine == purls
    release = json.loads(data["releases/shop/1.4.2.json"])
    for comp in release["components"]:
        for manifest in comp["manifests"]:
            hexd = manifest["digest"].split(":", 1)[1]
            assert manifest["sboms"] == {"cyclonedx": f"sboms/{hexd}.cdx.json", "spdx": f"sboms/{hexd}.spdx.json",
                                         "spdx3": f"sboms/{hexd}.spdx3.json"}


@pytest.mark.services
def test_render_cache_keeps_its_names_and_serves_spdx3(kits: dict[str, Any], images: Published,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    work = kits["work"]
    default = {p.name for p in (work / "cache-default" / "sboms" / "rendered").iterdir()}
    opt_in = {p.name for p in (work / "cache-opt-in" / "sboms" / "rendered").iterdir()}
    assert not any(n.endswith(".spdx3.json") for n in default)
    assert {n for n in opt_in if not n.endswith(".spdx3.json")} == default   # same keys for the old formats
    assert sum(n.endswith(".spdx3.json") for n in opt_in) == sum(n.endswith(".cdx.json") for n in default)

    def refuse(*args: Any) -> bytes:
        raise AssertionError("rendered again, not taken from the cache")
    suffix, media_type, _ = images_mod.FORMATS["spdx3"]
    monkeypatch.setitem(images_mod.FORMATS, "spdx3", (suffix, media_type, refuse))
    again = _build(images, work / "again", work / "cache-opt-in", OPT_IN)
    assert _entries(again) == _entries(kits["opt_in"])
    assert Path(again["#kit"].decode()).read_bytes() == Path(kits["opt_in"]["#kit"].decode()).read_bytes()


@pytest.mark.services
def test_inspect_still_lists_the_sboms(kits: dict[str, Any]) -> None:
    result = CliRunner().invoke(bundler_cli, ["inspect", kits["opt_in"]["#kit"].decode(), "--sboms",
                                              "--no-entries"])
    assert result.exit_code == 0, result.output
    assert "sbom       sboms/" in result.output


@pytest.mark.services
def test_sbom_command_writes_spdx3(images: Published, tmp_path: Path) -> None:
    out = tmp_path / "deb.spdx3.json"
    args = [images.deb, "--insecure", "--created", "2026-01-02T03:04:05Z", "--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(sbom, [*args, "--format", "spdx3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.endswith(b"\n")
    _, objset = _load(data[:-1])
    [info] = [o for o in objset.foreach() if type(o).__name__ == "CreationInfo"]
    assert info.specVersion == "3.0.1" and info.created.isoformat() == "2026-01-02T03:04:05+00:00"
    purls = {o.software_packageUrl for o in objset.foreach() if type(o).__name__ == "software_Package"}
    assert any(p.startswith("pkg:deb/debian/") for p in purls)
    stdout = CliRunner().invoke(sbom, [*args, "--format", "spdx3"])
    assert stdout.exit_code == 0 and stdout.output.encode() == data     # stdout and --out agree
    spdx = CliRunner().invoke(sbom, [*args, "--format", "spdx"])
    assert json.loads(spdx.output)["spdxVersion"] == "SPDX-2.3"         # the other formats are unchanged
    bad = CliRunner().invoke(sbom, [*args, "--format", "spdx4"])
    assert bad.exit_code == 2 and "spdx3" in bad.output


@pytest.mark.services
def test_the_appliance_records_each_sbom_format(kits: dict[str, Any]) -> None:
    """Both SPDX versions share a media type; the appliance tells them apart by content."""
    from appliance.importing.derive import Derived, _sbom
    from kit.format.manifest import Entry

    out = Derived()
    for path, data in sorted(_entries(kits["opt_in"]).items()):
        if path.startswith("sboms/"):
            types = json.loads(kits["opt_in"]["#types"])
            _sbom("k", Entry(path, types[path], len(data), "0" * 64), json.loads(data), out, set())
    formats = {row["path"].split(".", 1)[1]: row["format"] for row in out.sboms}
    assert formats == {"cdx.json": "cyclonedx", "spdx.json": "spdx", "spdx3.json": "spdx3"}
