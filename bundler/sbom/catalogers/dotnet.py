"""NuGet packages an application was built with, from its ``*.deps.json``.

The .NET SDK writes ``APP.deps.json`` next to every application and library it builds;
its ``libraries`` object names each dependency ``NAME/VERSION`` with a ``type``: only
``package`` entries are NuGet packages (``project`` and ``reference`` are the app's own
code and framework references). Each is ``pkg:nuget/NAME@VERSION``. A file larger than
the layer reader's ``max_file_bytes`` is refused there, naming the file and the layer.
"""

from __future__ import annotations

from collections.abc import Mapping

from packageurl import PackageURL

from bundler.sbom.catalogers.base import json_documents
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro

SUFFIX = ".deps.json"


class DotnetCataloger:
    """NuGet packages listed by .NET dependency manifests anywhere in the image."""

    name = "dotnet-deps"
    probe = None

    def wants(self, path: str) -> bool:
        """A dependency manifest."""
        return path.endswith(SUFFIX) and len(path.rpartition("/")[2]) > len(SUFFIX)

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """One component per ``package`` library; a broken file gives none."""
        out = []
        for path, kept, doc in json_documents(files, self.wants):
            libraries = doc.get("libraries") if isinstance(doc, dict) else None
            if not isinstance(libraries, dict):
                continue
            for key in sorted(libraries):
                lib = libraries[key]
                if not isinstance(lib, dict) or lib.get("type") != "package":
                    continue
                name, _, version = key.partition("/")
                if not name or not version:
                    continue
                out.append(Component(PackageURL("nuget", None, name, version).to_string(), name, version,
                                     "nuget", path, kept.layer, (), self.name))
        return out
