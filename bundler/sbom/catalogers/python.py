"""Python distributions from ``*.dist-info/METADATA`` and ``*.egg-info/PKG-INFO``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.parser import BytesHeaderParser
from email.policy import compat32

from packageurl import PackageURL

from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro

_META = re.compile(r"(?:^|/)[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO)$")


def normalize_name(name: str) -> str:
    """PEP 503 normalisation, as PyPI purls require."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _licenses(headers: Mapping[str, str], classifiers: list[str]) -> tuple[str, ...]:
    expression = headers.get("License-Expression")
    if expression:
        return (expression.strip(),)
    declared = (headers.get("License") or "").strip()
    if declared and declared.upper() != "UNKNOWN" and "\n" not in declared and len(declared) < 100:
        return (declared,)
    found = [c.split("::")[-1].strip() for c in classifiers if c.startswith("License ::")]
    return tuple(dict.fromkeys(f for f in found if f and f != "OSI Approved"))


class PythonCataloger:
    """Installed Python distributions (site-packages, dist-packages, anywhere)."""

    name = "python"
    probe = None

    def wants(self, path: str) -> bool:
        """Core metadata files."""
        return bool(_META.search(path))

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """One component per metadata file that has a Name and a Version."""
        out = []
        for path in sorted(p for p in files if self.wants(p)):
            kept = files[path]
            message = BytesHeaderParser(policy=compat32).parsebytes(kept.data)
            name, version = message.get("Name"), message.get("Version")
            if not name or not version:
                continue
            purl = PackageURL("pypi", None, normalize_name(str(name)), str(version).strip())
            licenses = _licenses({k: str(v) for k, v in message.items()},
                                 [str(c) for c in message.get_all("Classifier") or []])
            out.append(Component(purl.to_string(), str(name).strip(), str(version).strip(),
                                 "pypi", path, kept.layer, licenses, self.name))
        return out
