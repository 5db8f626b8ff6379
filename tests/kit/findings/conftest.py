"""Helpers for the findings tests: tiny OSV, CycloneDX and OpenVEX documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kit.findings.advisory import Advisory
from kit.findings.osv import parse_osv

IMAGE = "pkg:oci/web@sha256:" + "a" * 64


def osv(ident: str, name: str, *, ecosystem: str = "PyPI", events: list[dict[str, str]] | None = None,
        versions: list[str] | None = None, aliases: list[str] | None = None,
        range_type: str = "ECOSYSTEM", **extra: Any) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": range_type, "events": events}]
    if versions is not None:
        affected["versions"] = versions
    doc = {"id": ident, "modified": "2024-01-01T00:00:00Z", "affected": [affected],
           "aliases": aliases or []}
    doc.update(extra)
    return doc


def advisory(*args: Any, **kwargs: Any) -> Advisory:
    return parse_osv(osv(*args, **kwargs), "test")


def cyclonedx(purls: list[str], image: str = IMAGE, layer: str = "sha256:" + "1" * 64) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.6",
        "metadata": {"component": {"type": "container", "name": "web", "purl": image}},
        "components": [{"type": "library", "name": p, "purl": p, "bom-ref": p,
                        "properties": [{"name": "stella:layer", "value": layer}]} for p in purls],
    }


def openvex(ident: str, author: str, statements: list[dict[str, Any]],
            timestamp: str = "2024-05-01T00:00:00Z") -> dict[str, Any]:
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": ident, "author": author,
            "timestamp": timestamp, "version": 1, "statements": statements}


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def pypa_zip(shared_data: Path) -> Path:
    path = shared_data / "osv" / "pypa-advisory-database.zip"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the shared data folder")
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show the oracle's agreement figure in every normal run (not only with -s)."""
    lines = getattr(terminalreporter.config, "findings_oracle", [])
    if lines:
        terminalreporter.section("findings oracle (PyPA snapshot)")
        for line in lines:
            terminalreporter.write_line(line)
