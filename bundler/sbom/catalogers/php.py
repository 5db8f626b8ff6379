"""PHP packages Composer installed, from ``vendor/composer/installed.json``.

Composer 1 writes a JSON list of packages, Composer 2 an object whose ``packages`` is
that list. Each package with a string ``name`` (``vendor/project``) and ``version`` is
``pkg:composer/VENDOR/PROJECT@VERSION``, the version as Composer wrote it
(``v5.4.0`` stays ``v5.4.0``); ``license`` is a list of SPDX ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packageurl import PackageURL

from bundler.sbom.catalogers.base import json_documents
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro

INSTALLED = "vendor/composer/installed.json"


def _packages(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        doc = doc.get("packages")
    return doc if isinstance(doc, list) else []


def _licenses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(x.strip() for x in value if isinstance(x, str) and x.strip()))


class ComposerCataloger:
    """Composer's installed packages under any ``vendor/`` directory."""

    name = "php-composer"
    probe = None

    def wants(self, path: str) -> bool:
        """Composer's record of what it installed."""
        return path == INSTALLED or path.endswith("/" + INSTALLED)

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """One component per package with a name and version; a broken file gives none."""
        out = []
        for path, kept, doc in json_documents(files, self.wants):
            for pkg in _packages(doc):
                if not isinstance(pkg, dict):
                    continue
                name, version = pkg.get("name"), pkg.get("version")
                if not isinstance(name, str) or not isinstance(version, str) or not version:
                    continue
                vendor, _, project = name.strip().partition("/")
                if not vendor or not project:
                    continue
                purl = PackageURL("composer", vendor, project, version.strip()).to_string()
                out.append(Component(purl, name.strip(), version.strip(), "composer", path, kept.layer,
                                     _licenses(pkg.get("license")), self.name))
        return out
