"""The SQLite index gives the same findings as the in-memory one, through its index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance.findings_index import SqliteAdvisoryIndex
from kit.findings.component import component_from_purl
from kit.findings.engine import evaluate
from kit.findings.index import MemoryIndex
from kit.findings.report import to_json

from .conftest import advisory


def test_same_findings_as_memory(tmp_path: Path) -> None:
    advisories = [
        advisory("A-1", "Demo_Pkg", events=[{"introduced": "0"}, {"fixed": "2.0"}], aliases=["CVE-1"]),
        advisory("A-2", "demo-pkg", versions=["1.0"], aliases=["CVE-1"]),
        advisory("A-3", "demo-pkg", events=[{"introduced": "0"}], withdrawn="2024-01-01T00:00:00Z"),
        advisory("D-1", "openssl", ecosystem="Debian:12", events=[{"introduced": "0"}, {"fixed": "3.1-1"}]),
    ]
    conn = sqlite3.connect(tmp_path / "stella.db")
    index = SqliteAdvisoryIndex(conn)
    assert index.add(advisories) == 4
    assert index.add(advisories[:1]) == 1  # replacing is idempotent
    comps = [component_from_purl("pkg:pypi/demo.pkg@1.0"),
             component_from_purl("pkg:deb/debian/libssl3@3.0-1?upstream=openssl")]
    assert to_json(evaluate(comps, index)) == to_json(evaluate(comps, MemoryIndex(advisories)))
    plan = " ".join(str(r) for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT record FROM advisory_index WHERE ecosystem='pypi' AND name='x'"))
    assert "USING PRIMARY KEY" in plan
    assert index.count() == 4
