"""Delta kits from the bundler: what they carry and inherit, determinism, verification, import."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from appliance.cli import cli as stella
from bundler.cli import cli as bundler
from kit.format import Manifest, inspect_kit
from verifier.cli import cli as verifier

ROOT = Path(__file__).resolve().parents[2]
ADVISORY = {"schema_version": "1.6.0", "id": "GHSA-ex02-0002-0002", "modified": "2026-11-01T00:00:00Z",
            "published": "2026-11-01T00:00:00Z", "aliases": ["CVE-2026-0002"], "summary": "Example: second",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "exampleweb", "purl": "pkg:pypi/exampleweb"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.5.0"}]}]}]}


def run(cli: Any, *args: object, code: int = 0, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=env)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def manifest(path: Path) -> Manifest:
    m = inspect_kit(path).manifest
    assert m is not None
    return m


def day(site: Path, n: int) -> Path:
    """Turn the example kit folder into day *n*: sequence n; day 2 adds an advisory, day 3 edits the VEX."""
    spec = site / "kit.yaml"
    spec.write_text(re.sub(r"sequence: \d+", f"sequence: {n}", spec.read_text()))
    if n >= 2:
        (site / "osv" / "GHSA-example-0002.json").write_text(json.dumps(ADVISORY))
    if n >= 3:
        vex = json.loads((site / "vex/site.openvex.json").read_text())
        vex["statements"][0]["status_notes"] = "edited on day 3"
        (site / "vex/site.openvex.json").write_text(json.dumps(vex))
    return spec


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "site", tmp_path / "site")
    run(bundler, "keygen", "--out", tmp_path / "key")
    run(bundler, "trust", "init", "--key", tmp_path / "key", "--threshold", "1", "--channel", "stable",
        "--expires", "2099-12-31", "--out", tmp_path / "trust.json")
    run(bundler, "build", tmp_path / "site/kit.yaml", "--key", tmp_path / "key", "--out", tmp_path / "d1.kit")
    return tmp_path


def build(work: Path, out: str, *more: object, code: int = 0) -> Result:
    return run(bundler, "build", work / "site/kit.yaml", "--key", work / "key", "--out", work / out,
               "--no-progress", *more, code=code)


def test_delta_carries_only_new_content_and_inherits_the_rest(work: Path) -> None:
    day(work / "site", 2)
    build(work, "d2.delta", "--base", work / "d1.kit", "--trust", work / "trust.json")
    build(work, "d2.full")
    base, delta, full = manifest(work / "d1.kit"), manifest(work / "d2.delta"), manifest(work / "d2.full")
    assert delta.kind == "delta" and delta.base == {"kitId": base.kit_id, "sequence": 1}
    assert sorted([*delta.entries, *delta.inherited], key=lambda e: e.path) == list(full.entries)
    held = {e.sha256 for e in base.entries}
    assert all(e.sha256 not in held for e in delta.entries)
    assert all(e.sha256 in held for e in delta.inherited)
    assert {e.path for e in delta.entries} == {"advisories/records.ndjson", "advisories/sources.json",
                                               "provenance/build.intoto.dsse.json"}
    assert {e.path for e in delta.inherited} == {"attachments/notes.txt", "policy/data.json", "policy/gate.rego",
                                                 "vex/site.openvex.json"}


def _build_in_subprocess(work: Path, out: Path, env: dict[str, str]) -> bytes:
    code = ("import sys; from bundler.cli import main; sys.argv=['stella-bundler','build',"
            f"{str(work / 'site/kit.yaml')!r},'--key',{str(work / 'key')!r},'--out',{str(out)!r},"
            f"'--base',{str(work / 'd1.kit')!r},'--trust',{str(work / 'trust.json')!r},'--no-progress']; main()")
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    full_env.pop("SOURCE_DATE_EPOCH", None)
    subprocess.run([sys.executable, "-c", code], env=full_env, check=True, capture_output=True)
    return out.read_bytes()


def test_delta_is_byte_identical_whatever_the_environment(work: Path) -> None:
    day(work / "site", 2)
    a = _build_in_subprocess(work, work / "a.delta", {"TZ": "UTC", "LC_ALL": "C", "PYTHONHASHSEED": "0"})
    b = _build_in_subprocess(work, work / "b.delta", {"TZ": "Pacific/Kiritimati", "LC_ALL": "tr_TR.UTF-8",
                                                      "PYTHONHASHSEED": "4242"})
    assert a == b and manifest(work / "a.delta").kind == "delta"


def test_verify_a_delta_alone_and_with_its_base_chain(work: Path) -> None:
    day(work / "site", 2)
    build(work, "d2.delta", "--base", work / "d1.kit", "--trust", work / "trust.json")
    day(work / "site", 3)
    build(work, "d3.delta", "--base", work / "d2.delta", "--trust", work / "trust.json")
    trust = ("--trust", work / "trust.json")
    alone = run(verifier, "kit", work / "d3.delta", *trust).output
    assert alone.startswith("OK ") and "delta on #2," in alone
    whole = run(verifier, "kit", work / "d3.delta", *trust, "--base", work / "d2.delta", "--base", work / "d1.kit",
                "--json").output
    report = json.loads(whole)
    assert report["verified"] and report["checks"][-1]["check"] == "base"
    # the chain stops short of a full kit: the base of d2 is missing
    short = run(verifier, "kit", work / "d3.delta", *trust, "--base", work / "d2.delta", code=1)
    assert "base-mismatch" in short.output and short.output.count("\n") == 1
    assert manifest(work / "d1.kit").kit_id in short.output


def test_a_delta_against_the_wrong_base_is_one_line(work: Path) -> None:
    day(work / "site", 2)
    build(work, "d2.delta", "--base", work / "d1.kit", "--trust", work / "trust.json")
    other = work / "other"
    shutil.copytree(ROOT / "examples" / "site", other)
    (other / "files/notes.txt").write_text("another base\n")
    run(bundler, "build", other / "kit.yaml", "--key", work / "key", "--out", work / "other.kit")
    result = run(verifier, "kit", work / "d2.delta", "--trust", work / "trust.json", "--base", work / "other.kit",
                 code=1)
    assert result.output.count("\n") == 1 and "base-mismatch" in result.output
    assert f"names base {manifest(work / 'd1.kit').kit_id}" in result.output


def test_a_corrupt_base_is_refused_and_nothing_is_written(work: Path) -> None:
    data = bytearray((work / "d1.kit").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (work / "bad.kit").write_bytes(bytes(data))
    day(work / "site", 2)
    result = build(work, "d2.delta", "--base", work / "bad.kit", "--trust", work / "trust.json", code=1)
    assert result.output.count("\n") == 1 and "base kit" in result.output and "bad.kit" in result.output
    assert not (work / "d2.delta").exists()
    # a base not below the new sequence is refused too
    result = build(work, "x.delta", "--base", work / "d1.kit", "--trust", work / "trust.json", code=0)
    day(work / "site", 1)
    result = build(work, "y.delta", "--base", work / "d1.kit", "--trust", work / "trust.json", code=1)
    assert "base-mismatch" in result.output and "not above the base kit's sequence 1" in result.output
    assert run(bundler, "build", work / "site/kit.yaml", "--key", work / "key", "--base", work / "d1.kit",
               code=2).output.count("--trust") >= 1


VOLATILE = {  # columns that legitimately differ between two imports of the same content
    "kits": ("kind", "base_kit_id", "imported_at", "import_id", "file_size", "total_size", "manifest", "envelope"),
    "kit_entries": ("carried",), "blobs": ("added_at",),
}
SKIPPED = ("import_records", "audit_events", "schema_migrations", "trust_roots", "site_state")


def dump(home: Path, ids: dict[str, str]) -> dict[str, list[str]]:
    """Every table (volatile columns dropped, kit ids renamed by *ids*) and the content store."""
    conn = sqlite3.connect(home / "stella.db")
    out: dict[str, list[str]] = {}
    try:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
            if table in SKIPPED:
                continue
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                    if r[1] not in VOLATILE.get(table, ())]
            rows = [repr(r) for r in conn.execute(f"SELECT {', '.join(cols)} FROM {table}")]
            for old, new in ids.items():
                rows = [r.replace(old, new) for r in rows]
            out[table] = sorted(rows)
    finally:
        conn.close()
    out["content store"] = sorted(f"{p.name}:{p.stat().st_size}" for p in (home / "blobs/sha256").iterdir())
    return out


def test_import_of_base_plus_deltas_equals_the_full_kits(work: Path) -> None:
    kits: dict[str, Path] = {"d1": work / "d1.kit"}
    for n in (2, 3):
        day(work / "site", n)
        build(work, f"d{n}.delta", "--base", kits[f"d{n - 1}"], "--trust", work / "trust.json")
        build(work, f"d{n}.full")
        kits[f"d{n}"] = work / f"d{n}.delta"
    a, b = work / "a", work / "b"
    for home in (a, b):
        run(stella, "init", "--trust", work / "trust.json", "--registry-addr", "127.0.0.1:9", "--home", home)
    refused = run(stella, "import", work / "d3.delta", "--home", a, code=1)
    assert "base-missing" in refused.output
    for name in ("d1.kit", "d2.delta", "d3.delta"):
        run(stella, "import", work / name, "--home", a)
    for name in ("d1.kit", "d2.full", "d3.full"):
        run(stella, "import", work / name, "--home", b)
    ids = {manifest(work / f"d{n}.delta").kit_id: manifest(work / f"d{n}.full").kit_id for n in (2, 3)}
    assert dump(a, ids) == dump(b, {})
    assert dump(a, ids)["kit_entries"] and dump(a, ids)["vex_statements"]


def test_verify_with_a_corrupt_base_names_the_base(work: Path) -> None:
    day(work / "site", 2)
    build(work, "d2.delta", "--base", work / "d1.kit", "--trust", work / "trust.json")
    data = bytearray((work / "d1.kit").read_bytes())
    data[-200] ^= 0xFF
    (work / "bad.kit").write_bytes(bytes(data))
    out = run(verifier, "kit", work / "d2.delta", "--trust", work / "trust.json", "--base", work / "bad.kit",
              code=1).output
    assert out.count("\n") == 1 and "FAILED" in out and "base kit" in out and "bad.kit" in out
