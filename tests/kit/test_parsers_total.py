"""Every parser is total (issue 17, principle 2): whatever the bytes, a value or a documented
error — never ``internal`` (an exception that is not a ``StellaError``), never exit 4 for
what is only bad input, never a traceback.

Per parser, hypothesis feeds arbitrary bytes and structure-aware mutations of real documents
(the PyPA OSV snapshot and the CycloneDX/CSAF examples in ../shared/data, documents our own
code writes): any node replaced by a hostile value (an integer of 5,000 digits, nesting
3,000 deep, a 100,000-character string, a lone surrogate, a 1,000-part version, the wrong
type) or deleted. Examples are capped (``max_examples`` 150, no deadline) so the suite stays quick.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bundler.sources.policy import _data as policy_data
from bundler.spec import load_spec
from kit import canonical, dsse
from kit.crypto import generate
from kit.diff.documents import compare_releases
from kit.errors import KitIOError, StellaError
from kit.evidence import packet
from kit.evidence.import_record import (
    FORMAT_VERSION,
    KIT_FIELDS,
    PAYLOAD_TYPE as IMPORT_TYPE,
    RECORD_TYPE,
    sign_record,
    verify_import_record,
)
from kit.findings import MemoryIndex, evaluate, load_advisories, load_sboms, load_vex
from kit.schema import validate
from kit.trust.root import load_root_envelope
from tests.kit.conftest import make_root
from tests.kit.findings.conftest import cyclonedx, openvex

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

# Hostile values; the three sentinels stand for text json.dumps cannot write.
HUGE_INT, DEEP_LIST, DEEP_OBJECT = "@@HUGE_INT@@", "@@DEEP_LIST@@", "@@DEEP_OBJECT@@"
HOSTILE: list[Any] = [
    None, True, 0, -1, 2 ** 64, 1.5, 1e308, "", "x" * 100_000, "1" * 5000, ".".join(["1"] * 1000),
    [], {}, [None], {"": None}, "\u0000", "\ud800", "pkg:pypi/a@" + "9" * 5000, "pkg:", "a" * 300 + ":",
    HUGE_INT, DEEP_LIST, DEEP_OBJECT, "2026-13-45T99:99:99Z", "../../etc/passwd",
]
_SENTINELS = {json.dumps(HUGE_INT): "1" * 5000, json.dumps(DEEP_LIST): "[" * 3000 + "]" * 3000,
              json.dumps(DEEP_OBJECT): '{"a":' * 3000 + "1" + "}" * 3000}


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:50]):
            out += _paths(item, (*at, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _dumps(doc: Any) -> bytes:
    text = json.dumps(doc)
    for sentinel, raw in _SENTINELS.items():
        text = text.replace(sentinel, raw)
    return text.encode("utf-8")


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> bytes:
    """A seed document with up to three nodes replaced by hostile values or deleted, as JSON bytes."""
    doc = json.loads(json.dumps(draw(st.sampled_from(seeds))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        delete = bool(path) and draw(st.booleans())
        value = draw(st.sampled_from(HOSTILE))
        doc = _set(doc, path, json.loads(json.dumps(value)), delete)     # a copy: never a cycle
    return _dumps(doc)


def inputs(seeds: list[Any]) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, arbitrary JSON, or a mutated real document (mostly the last)."""
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                               lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                               max_leaves=20)
    return st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                     mutated(seeds), mutated(seeds), mutated(seeds))


def total(call: Callable[[], Any], *, io_ok: bool = False) -> None:
    """*call* returns, or raises a documented error on one line; exit 4 only for a real I/O error."""
    try:
        call()
    except StellaError as exc:
        assert type(exc) is not StellaError
        assert exc.exit_code != 4 or (io_ok and isinstance(exc, KitIOError)), exc.one_line()
        assert "\n" not in exc.one_line()


# --- seeds ---------------------------------------------------------------------------------

def _shared(pattern: str) -> list[Any]:
    found = [json.loads(p.read_bytes()) for p in sorted(SHARED.glob(pattern))[:6]]
    if not found:
        pytest.skip(f"{SHARED / pattern} is missing")
    return found


def _osv_seeds() -> list[Any]:
    path = SHARED / "osv" / "pypa-advisory-database.zip"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    with zipfile.ZipFile(path) as z:
        return [json.loads(z.read(n)) for n in sorted(z.namelist())[:8]]


SIGNER = generate()


def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _findings(sboms: list[Path], advisories: list[Path], vex: list[Path]) -> None:
    components, problems = load_sboms(sboms)
    loaded = load_advisories(advisories)
    statements, vex_problems = load_vex(vex)
    evaluate(components, MemoryIndex(loaded.records), statements, None, problems + loaded.problems + vex_problems)


# --- one property per parser ---------------------------------------------------------------

def test_osv(tmp_path: Path) -> None:
    seeds = _osv_seeds()
    sbom = _write(tmp_path, "s.cdx.json", _dumps(cyclonedx(["pkg:pypi/django@1.0", "pkg:pypi/jinja2@2.0"])))

    @SETTINGS
    @given(data=inputs(seeds))
    def check(data: bytes) -> None:
        adv = _write(tmp_path, "a.json", data)
        total(lambda: _findings([sbom], [adv], []))
        total(lambda: _findings([sbom], [_write(tmp_path, "a.ndjson", data.replace(b"\n", b" ") + b"\n{}")], []))
    check()


def test_cyclonedx_and_spdx_sboms(tmp_path: Path) -> None:
    from tests.bundler.test_vendor_sbom import spdx_vendor
    seeds = [*_shared("cyclonedx-vex/*bom*.json"), cyclonedx(["pkg:pypi/django@1.0", "pkg:npm/a@1.0.0"]),
             json.loads(spdx_vendor("sha256:" + "2" * 64))]
    adv = _write(tmp_path, "a.json", _dumps(_osv_seeds()[0]))

    @SETTINGS
    @given(data=inputs(seeds))
    def check(data: bytes) -> None:
        total(lambda: _findings([_write(tmp_path, "s.json", data)], [adv], []))
    check()


def test_vex_documents(tmp_path: Path) -> None:
    seeds = [*_shared("cyclonedx-vex/*vex*.json"), *_shared("csaf/examples/csaf_vex/*.json")[:3],
             openvex("vex-1", "Vendor", [{"vulnerability": {"name": "CVE-1"},
                                          "products": [{"@id": "pkg:pypi/django@1.0"}], "status": "not_affected",
                                          "justification": "vulnerable_code_not_present"}])]
    sbom = _write(tmp_path, "s.cdx.json", _dumps(cyclonedx(["pkg:pypi/django@1.0"])))
    adv = _write(tmp_path, "a.json", _dumps(_osv_seeds()[0]))

    @SETTINGS
    @given(data=inputs(seeds))
    def check(data: bytes) -> None:
        total(lambda: _findings([sbom], [adv], [_write(tmp_path, "v.json", data)]))
    check()


def _envelope_seeds(payload_type: str, payloads: list[Any]) -> list[Any]:
    return [json.loads(dsse.sign(payload_type, canonical.dumps(p), [SIGNER]).to_bytes()) for p in payloads]


@st.composite
def enveloped(draw: st.DrawFn, payload_type: str, payloads: list[Any]) -> bytes:
    """A DSSE envelope (its signature kept) around a mutated payload, or mutated envelope bytes."""
    if draw(st.booleans()):
        return draw(inputs(_envelope_seeds(payload_type, payloads)))
    body = draw(mutated(payloads))
    env = json.loads(dsse.sign(payload_type, b"{}", [SIGNER]).to_bytes())
    env["payload"] = base64.b64encode(body).decode()
    return canonical.dumps(env)


def test_trust_root() -> None:
    root = make_root([SIGNER], 1)
    payload = json.loads(root.envelope.payload)

    @SETTINGS
    @given(data=enveloped(root.envelope.payload_type, [payload]))
    def check(data: bytes) -> None:
        total(lambda: load_root_envelope(data, "root.json"))
    check()


def test_evidence_packet() -> None:
    record = {"subject": "web@1.0", "evaluatedAt": "2026-01-01T00:00:00Z", "verdict": "pass", "gates": []}
    env = json.loads(packet.build("release_decision", record, {}, SIGNER))
    payload = json.loads(base64.b64decode(env["payload"]))

    @SETTINGS
    @given(data=enveloped(env["payloadType"], [payload]))
    def check(data: bytes) -> None:
        def parse() -> None:
            _env, p = packet.parse(data)
            packet.check_digests(p)
        total(parse)
    check()


def test_import_record() -> None:
    payload = {"_type": RECORD_TYPE, "formatVersion": FORMAT_VERSION, "result": "imported", "importId": "i",
               "time": "2026-01-01T00:00:00Z", "actor": "admin",
               "kit": {f: "x" for f in KIT_FIELDS}, "trustRoot": {"version": 1}, "appliance": {"keyid": "k"},
               "checks": [{"check": "signature", "ok": True, "detail": "ok"}]}
    payloads = [json.loads(sign_record(payload, SIGNER).payload)]

    @SETTINGS
    @given(data=enveloped(IMPORT_TYPE, payloads))
    def check(data: bytes) -> None:
        total(lambda: verify_import_record(data, SIGNER.public_key))
    check()


def test_release_documents() -> None:
    release = {"_type": "stella/release", "name": "shop", "version": "1.0", "created": "2026-01-01T00:00:00Z",
               "components": [{"service": "web", "image": "registry.example/web", "digest": "sha256:" + "a" * 64}]}

    @SETTINGS
    @given(data=inputs([release]))
    def check(data: bytes) -> None:
        total(lambda: compare_releases({"releases/shop.json": _dumps(release)}, {"releases/shop.json": data}))

        def schema() -> None:
            try:
                doc = canonical.loads(data, allow_floats=True)
            except canonical.CanonicalJSONError:
                return
            validate("release", doc, "releases/shop.json")
        total(schema)
    check()


def test_policy_pack_data(tmp_path: Path) -> None:
    @SETTINGS
    @given(data=inputs([{"allowed": ["a", "b"], "limits": {"critical": 0}}]))
    def check(data: bytes) -> None:
        total(lambda: policy_data(_write(tmp_path, "data.json", data), "data.json"))
    check()


def test_kit_yaml(tmp_path: Path) -> None:
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "a.json").write_bytes(_dumps(_osv_seeds()[0]))
    seed = {"kit": {"name": "site", "channel": "stable", "sequence": 1, "created": "2026-01-01T00:00:00Z",
                    "expires": "2099-01-01T00:00:00Z"},
            "advisories": [{"path": "osv", "source": "pypa"}],
            "releases": {"shop": {"version": "1.0", "components": {"web": "registry.example/web@sha256:" + "a" * 64}}}}

    @settings(SETTINGS, max_examples=60)        # PyYAML takes ~2 s on the 3,000-deep documents
    @given(data=inputs([seed]))                  # JSON is YAML: the mutated documents are kit.yaml files
    def check(data: bytes) -> None:
        total(lambda: load_spec(_write(tmp_path, "kit.yaml", data)), io_ok=True)
    check()


def test_vendor_sboms(tmp_path: Path) -> None:
    """A vendor's SBOM in kit.yaml (checked by the CycloneDX and SPDX libraries at build time)."""
    from bundler import vendorsbom
    from tests.bundler.test_vendor_sbom import spdx_vendor
    seeds = [*_shared("cyclonedx-vex/*bom*.json")[:2], json.loads(spdx_vendor("sha256:" + "2" * 64))]

    @settings(SETTINGS, max_examples=60)        # the libraries' schema checks take ~50 ms a document
    @given(data=inputs(seeds))
    def check(data: bytes) -> None:
        spec = vendorsbom.VendorSBOMSpec("web", _write(tmp_path, "vendor.json", data))
        total(lambda: vendorsbom.load(spec, "kit.yaml"))
    check()


def test_compose_templates() -> None:
    """A release's compose template (YAML; JSON is YAML): the kit side's parser."""
    from kit.deploy.lockfile import parse_template
    seed = {"services": {"web": {"image": "registry.example/web@sha256:" + "a" * 64, "ports": ["8080:80"],
                                 "environment": {"A": "1"}}}}

    @settings(SETTINGS, max_examples=80)
    @given(data=inputs([seed]))
    def check(data: bytes) -> None:
        total(lambda: parse_template(data, "releases/shop.compose.yaml"))
    check()
