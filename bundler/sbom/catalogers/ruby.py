"""Ruby gems from installed specifications (``specifications/NAME-VERSION.gemspec``).

RubyGems writes these files as Ruby code; they are never evaluated here. Only the
assignments a generated specification makes are read, as literals: ``s.name = "rack"``,
``s.version = "2.2.22"`` (or ``Gem::Version.new("…")``), ``s.licenses = ["MIT"]`` and
``s.license = "MIT"``, with any ``.freeze``. Name and version fall back to the file
name. Components are ``pkg:gem/NAME@VERSION``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from packageurl import PackageURL

from bundler.sbom.catalogers.base import text
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro

_SPEC = re.compile(r"(?:^|/)specifications/(?:default/)?([^/]+)\.gemspec$")
_ASSIGN = re.compile(r"^\s*\w+\.(name|version|licenses?)\s*=\s*(.+?)\s*$", re.M)
_STRING = re.compile(r"""(?:"((?:[^"\\#]|\\.|#(?!\{))*)"|'((?:[^'\\]|\\.)*)'|%q<([^>]*)>)(?:\.freeze)?""")
_S = _STRING.pattern
_LITERAL = re.compile(rf"(?:{_S}|\[\s*(?:{_S}(?:\s*,\s*{_S})*)?\s*\]|Gem::Version\.new\(\s*{_S}\s*\))")
_FILE_NAME = re.compile(r"^(.+)-(\d[^-]*)$")


def _strings(value: str) -> list[str] | None:
    """The strings of a literal (``"a".freeze``, ``['a', "b"]``, ``%q<a>``,
    ``Gem::Version.new("1")``); None for anything else (code, interpolation)."""
    value = re.sub(r"\s+if\s+s\.respond_to\?.*$", "", value).strip()
    if not _LITERAL.fullmatch(value):
        return None
    return [next(g for g in m.groups() if g is not None) for m in _STRING.finditer(value)]


def parse_gemspec(data: bytes, file_stem: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(name, version, licenses) of a gemspec, or None when it names no version."""
    fields: dict[str, list[str]] = {}
    for key, value in _ASSIGN.findall(text(data)):
        if key not in fields:                         # the first assignment counts
            found = _strings(value)
            fields[key] = found if found is not None else []
    by_name = _FILE_NAME.match(file_stem)
    name = next(iter(fields.get("name", [])), "") or (by_name[1] if by_name else "")
    version = next(iter(fields.get("version", [])), "") or (by_name[2] if by_name else "")
    if not name or not version:
        return None
    licenses = fields.get("licenses") or fields.get("license") or []
    return name, version, tuple(dict.fromkeys(x for x in licenses if x))


class RubyCataloger:
    """Installed gems (any GEM_HOME, Debian's rubygems-integration, bundler's vendor path)."""

    name = "ruby-gem"
    probe = None

    def wants(self, path: str) -> bool:
        """An installed specification."""
        return bool(_SPEC.search(path))

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        out = []
        for path in sorted(p for p in files if self.wants(p)):
            kept = files[path]
            match = _SPEC.search(path)
            assert match is not None
            found = parse_gemspec(kept.data, match[1])
            if found is None:
                continue
            name, version, licenses = found
            out.append(Component(PackageURL("gem", None, name, version).to_string(), name, version, "gem",
                                 path, kept.layer, licenses, self.name))
        return out
