"""Kits, homes and state snapshots for the appliance tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from appliance.cli import cli
from kit.crypto import Signer
from kit.format.manifest import Entry
from kit.format.writer import EntrySource, WriteResult, write_kit
from kit.timeutil import now
from kit.trust import build_root, load_root_envelope
from kit.trust.root import TrustRoot

ROOT = Path(__file__).resolve().parents[2]
NOW = now()
CREATED = NOW - dt.timedelta(days=1)
EXPIRES = NOW + dt.timedelta(days=60)
GEN = {"name": "tests", "version": "1"}


def make_root(signers: list[Signer], version: int = 1, threshold: int = 1,
              extra: list[Signer] | None = None, channels: tuple[str, ...] = ("stable", "edge")) -> TrustRoot:
    publics = [s.public_key for s in signers]
    env = build_root(version=version, expires=NOW + dt.timedelta(days=365), keys=publics, root_threshold=threshold,
                     channels={c: (publics, threshold) for c in channels}, signers=[*signers, *(extra or [])])
    return load_root_envelope(env.to_bytes())


def files_v1() -> dict[str, bytes]:
    """A small kit with one entry of every kind the appliance derives rows from."""
    return {
        "advisories/osv/GHSA-1.json": json.dumps({"id": "GHSA-1", "modified": "2026-01-01T00:00:00Z"}).encode(),
        "advisories/osv/GHSA-2.json": json.dumps({"id": "GHSA-2", "modified": "2026-01-02T00:00:00Z"}).encode(),
        "attachments/notes.txt": b"release notes\n" * 100,
        "attachments/copy.txt": b"release notes\n" * 100,     # same content twice: one blob
        "policy/gate.rego": b"package stella.gate\ndefault allow := true\n",
        "releases/web.json": json.dumps({"name": "web", "version": "1.2.3"}).encode(),
        "sboms/web.cdx.json": json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
            {"type": "library", "name": "requests", "version": "2.31.0",
             "purl": "pkg:pypi/requests@2.31.0"}]}).encode(),
        "vex/site.openvex.json": json.dumps({"statements": [{"vulnerability": {"name": "CVE-2024-1"},
                                                             "products": [{"@id": "pkg:pypi/requests@2.31.0"}],
                                                             "status": "not_affected",
                                                             "justification": "vulnerable_code_not_present"}]}
                                            ).encode(),
    }


MEDIA = {"advisories": "application/vnd.osv+json", "vex": "application/vnd.openvex+json",
         "policy": "application/vnd.stella.rego", "releases": "application/vnd.stella.release+json",
         "sboms": "application/vnd.cyclonedx+json"}


def kit(out: Path, files: dict[str, bytes], signers: list[Signer], *, sequence: int = 1, channel: str = "stable",
        name: str = "site", kind: str = "full", base: dict[str, Any] | None = None,
        inherited: list[Entry] | None = None, created: dt.datetime = CREATED,
        expires: dt.datetime = EXPIRES, media: dict[str, str] | None = None) -> WriteResult:
    types = {**MEDIA, **(media or {})}
    sources = [EntrySource(p, types.get(p, types.get(p.split("/")[0], "application/octet-stream")), data=d)
               for p, d in files.items()]
    return write_kit(out, name=name, channel=channel, sequence=sequence, created=created, expires=expires,
                     sources=sources, signers=signers, generator=GEN, kind=kind, base=base,
                     inherited=inherited or [])


def delta_of(out: Path, base: WriteResult, files: dict[str, bytes], signers: list[Signer],
             sequence: int) -> WriteResult:
    """A delta kit: carries what the base lacks, inherits the rest (as a bundler would)."""
    base_by_path = {e.path: e for e in base.manifest.entries}
    carried, inherited = {}, []
    for path, data in files.items():
        old = base_by_path.get(path)
        if old is not None and old.sha256 == hashlib.sha256(data).hexdigest():
            inherited.append(old)
        else:
            carried[path] = data
    return kit(out, carried, signers, sequence=sequence, kind="delta", inherited=inherited,
               base={"kitId": base.manifest.kit_id, "sequence": base.manifest.sequence})


def stella(*args: str, home: Path | None = None, env: dict[str, str] | None = None) -> Result:
    argv = [*args, "--home", str(home)] if home is not None else list(args)
    return CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)


def stella_proc(*args: str, home: Path, env: dict[str, str] | None = None,
                **kw: Any) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-c", "from appliance.cli import main; main()", *args,
                             "--home", str(home)], env=full_env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


VOLATILE_DIRS = ("registry/storage",)


def snapshot(home: Path) -> dict[str, Any]:
    """Every table's rows and every file (path → sha256), WAL files excluded."""
    conn = sqlite3.connect(home / "stella.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        db = {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables}
    finally:
        conn.close()
    files = {}
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home).as_posix()
        if path.is_file() and not rel.startswith("stella.db") and rel != "import.lock":
            files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir() and not any(path.iterdir()):
            files[rel + "/"] = "empty dir"
    return {"db": db, "files": files}
