"""npm packages from ``node_modules/NAME/package.json`` (scoped names included)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packageurl import PackageURL

from bundler.sbom.catalogers.base import json_documents
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro

_PACKAGE_JSON = re.compile(r"(?:^|/)node_modules/((?:@[^/]+/)?[^/@][^/]*)/package\.json$")


def _licenses(doc: Mapping[str, Any]) -> tuple[str, ...]:
    value = doc.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    legacy = doc.get("licenses")  # old form: [{"type": "MIT"}, ...]
    if isinstance(legacy, list):
        return tuple(str(x.get("type")) for x in legacy if isinstance(x, dict) and x.get("type"))
    return ()


def npm_purl(name: str, version: str) -> str:
    """``pkg:npm/%40scope/name@version`` or ``pkg:npm/name@version``."""
    scope, _, base = name.rpartition("/")
    return PackageURL("npm", scope or None, base, version).to_string()


class NpmCataloger:
    """Packages installed under any ``node_modules`` directory."""

    name = "npm"
    probe = None

    def wants(self, path: str) -> bool:
        """A package's own package.json, directly under node_modules."""
        return bool(_PACKAGE_JSON.search(path))

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """One component per package.json with a string name and version."""
        out = []
        for path, kept, doc in json_documents(files, self.wants):   # a broken package.json is no package
            if not isinstance(doc, dict):
                continue
            name, version = doc.get("name"), doc.get("version")
            if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
                continue
            out.append(Component(npm_purl(name, version), name, version, "npm", path,
                                 kept.layer, _licenses(doc), self.name))
        return out
