"""``stella-bundler diff``: releases, advisories, VEX, policy, trust and sizes between two kits."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bundler.cli import cli as bundler
from kit import canonical
from kit.crypto import Signer, generate
from kit.format.writer import WriteResult
from tests.appliance.helpers import EXPIRES, delta_of, kit, make_root

DIGEST = "sha256:" + "a" * 64


def release(name: str, version: str, **components: str) -> bytes:
    return json.dumps({"_type": "stella/release", "name": name, "version": version, "created": "2026-11-01T00:00:00Z",
                       "compose": None, "components": [{"service": s, "image": f"example/{s}", "digest": d}
                                                       for s, d in components.items()]}).encode()


def record(ident: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "aliases": [], "modified": "2026-11-01T00:00:00Z", "published": "", "withdrawn": "",
            "summary": f"advisory {ident}", "source": "osv", "label": "high", "severity": [], "affected": [], **extra}


def records(*recs: dict[str, Any]) -> bytes:
    return b"".join(canonical.dumps(r) + b"\n" for r in sorted(recs, key=lambda r: str(r["id"])))


def vex(status: str) -> bytes:
    return json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
        {"vulnerability": {"name": "CVE-2026-0001"}, "products": [{"@id": "pkg:pypi/web@1.0"}], "status": status,
         **({"justification": "component_not_present"} if status == "not_affected" else {})}]}).encode()


def day_one() -> dict[str, bytes]:
    return {"releases/shop/1.0.json": release("shop", "1.0", web=DIGEST, db="sha256:" + "b" * 64),
            "releases/old/1.0.json": release("old", "1.0", app=DIGEST),
            "advisories/records.ndjson": records(record("A-1"), record("A-2"), record("A-3")),
            "vex/site.openvex.json": vex("under_investigation"),
            "policy/gate.rego": b"package stella.gate\n\ndeny contains msg if {\n  false\n  msg := \"x\"\n}\n",
            "attachments/layer.bin": b"\x00" * 100_000}


def day_two() -> dict[str, bytes]:
    files = day_one()
    del files["releases/old/1.0.json"]
    files["releases/shop/1.1.json"] = release("shop", "1.1", web="sha256:" + "c" * 64, db="sha256:" + "b" * 64)
    del files["releases/shop/1.0.json"]
    files["releases/new/2.0.json"] = release("new", "2.0", app=DIGEST)
    files["advisories/records.ndjson"] = records(record("A-1", label="critical"),
                                                 record("A-3", withdrawn="2026-11-02T00:00:00Z"), record("A-4"))
    files["vex/site.openvex.json"] = vex("not_affected")
    files["policy/gate.rego"] = files["policy/gate.rego"].replace(b"false", b"input.release.name == \"old\"")
    return files


@pytest.fixture(scope="module")
def key() -> Signer:
    return generate()


@pytest.fixture()
def kits(tmp_path: Path, key: Signer) -> tuple[WriteResult, WriteResult, WriteResult]:
    one = kit(tmp_path / "one.kit", day_one(), [key])
    two = kit(tmp_path / "two.kit", day_two(), [key], sequence=2, expires=EXPIRES + dt.timedelta(days=7))
    delta = delta_of(tmp_path / "two.delta", one, day_two(), [key], 2)
    return one, two, delta


def diff(*args: object, code: int = 0) -> str:
    result = CliRunner().invoke(bundler, ["diff", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_diff_names_every_change(kits: tuple[WriteResult, WriteResult, WriteResult]) -> None:
    one, two, _ = kits
    d = json.loads(diff(one.path, two.path, "--json"))
    assert [r["release"] for r in d["releases"]["added"]] == ["new@2.0"]
    assert [r["release"] for r in d["releases"]["removed"]] == ["old@1.0"]
    assert d["releases"]["changed"] == [{"release": "shop", "from": "shop@1.0", "to": "shop@1.1", "components": [
        {"service": "web", "old": DIGEST, "new": "sha256:" + "c" * 64}]}]
    assert d["advisories"] == {"added": ["A-4"], "changed": [{"id": "A-1", "fields": ["label"]},
                                                             {"id": "A-3", "fields": ["withdrawn"]}],
                               "withdrawn": [{"id": "A-2", "how": "removed"},
                                             {"id": "A-3", "how": "withdrawn 2026-11-02T00:00:00Z"}]}
    assert d["vex"]["changed"] == [{"document": "vex/site.openvex.json", "vulnerability": "CVE-2026-0001",
                                    "product": "pkg:pypi/web@1.0", "fields": ["justification", "status"],
                                    "from": "under_investigation", "to": "not_affected"}]
    patch = d["policy"]["changed"][0]["diff"]
    assert patch.startswith("--- a/policy/gate.rego\n+++ b/policy/gate.rego\n")
    assert "-  false\n+  input.release.name == \"old\"\n" in patch
    assert d["trust"]["expires"]["old"] != d["trust"]["expires"]["new"] and d["trust"]["changed"] == []
    assert d["new"]["bytes"] == two.manifest.total_size and d["old"]["fileSize"] == one.path.stat().st_size
    assert d["unknown"] == []


def test_a_delta_on_old_diffs_like_the_full_kit(kits: tuple[WriteResult, WriteResult, WriteResult]) -> None:
    one, two, delta = kits
    full, partial = json.loads(diff(one.path, two.path, "--json")), json.loads(diff(one.path, delta.path, "--json"))
    for section in ("releases", "advisories", "vex", "policy"):
        assert partial[section] == full[section], section
    assert "attachments/layer.bin" in partial["entries"]["inherited"]
    assert partial["new"]["carriedBytes"] < partial["new"]["bytes"] and partial["kits"]["newIsDeltaOnOld"]


def test_a_delta_alone_says_what_it_cannot_know(kits: tuple[WriteResult, WriteResult, WriteResult],
                                                tmp_path: Path, key: Signer) -> None:
    one, _, _ = kits
    delta = delta_of(tmp_path / "more.delta", one, {**day_one(), "attachments/x.txt": b"x"}, [key], 2)
    other = kit(tmp_path / "other.kit", {"attachments/x.txt": b"x"}, [key], sequence=1)
    text = diff(other.path, delta.path)
    assert "delta on #1" in text and "carries 1 (1 B), inherits 6" in text
    assert ("unknown: 5 document(s) inherited from a base that was not given: advisories/records.ndjson, "
            "policy/gate.rego, releases/old/1.0.json, releases/shop/1.0.json, vex/site.openvex.json") in text
    assert "releases: 0 added, 0 removed, 0 changed" in text


def test_text_report_and_identical_kits(kits: tuple[WriteResult, WriteResult, WriteResult]) -> None:
    one, two, _ = kits
    text = diff(one.path, two.path)
    assert "releases: 1 added, 1 removed, 1 changed" in text and "~ shop@1.0 -> shop@1.1" in text
    assert "advisories: 1 added, 2 changed, 2 withdrawn" in text and "~ A-1 (label)" in text
    assert "+  input.release.name == \"old\"" in text
    same = diff(one.path, one.path)
    assert "releases: 0 added, 0 removed, 0 changed" in same and "entries: 0 added, 0 removed, 0 changed" in same


def test_bad_inputs_are_one_line(kits: tuple[WriteResult, WriteResult, WriteResult], tmp_path: Path,
                                 key: Signer) -> None:
    one, two, _ = kits
    (tmp_path / "junk.kit").write_bytes(b"not a kit")
    out = diff(one.path, tmp_path / "junk.kit", code=3)
    assert out.count("\n") == 1 and "not-a-kit" in out and "junk.kit" in out
    unsorted = kit(tmp_path / "u.kit", {"advisories/records.ndjson": records(record("B")) + records(record("A"))},
                   [key])
    out = diff(one.path, unsorted.path, code=3)
    assert out.count("\n") == 1 and "not sorted by id" in out
    root = tmp_path / "trust.json"
    root.write_bytes(make_root([generate()]).envelope.to_bytes())
    out = diff(one.path, two.path, "--trust", root, code=1)
    assert out.count("\n") == 1 and "untrusted-key" in out
