"""Releases in kit.yaml: names, versions, components (service → image) and a compose template.

A release is what the appliance promotes. Components name images by tag or digest; the
build resolves tags to digests and the release document in the kit lists digests only
(the tag stays as information). See docs/kit-yaml.md and docs/schemas/release.schema.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bundler.errors import SpecError
from bundler.vendorsbom import VendorSBOMSpec, parse_component
from kit.inputfile import read_file

_RELEASE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_SERVICE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$")
RELEASE_KEYS = {"name", "version", "components", "compose"}


@dataclass(frozen=True)
class ReleaseSpec:
    name: str
    version: str
    components: tuple[tuple[str, str], ...]     # (service, image reference), sorted by service
    compose: Path | None = None
    vendor_sboms: tuple[VendorSBOMSpec, ...] = ()   # SBOMs vendors published, by service

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


def _one(item: Any, index: int, base: Path, where: str) -> ReleaseSpec:
    at = f"{where}: releases[{index}]"
    if not isinstance(item, dict):
        raise SpecError(f"{at} must be a mapping with name, version and components")
    extra = sorted(set(item) - RELEASE_KEYS)
    if extra:
        raise SpecError(f"{at}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(RELEASE_KEYS))})")
    name, version = item.get("name"), item.get("version")
    if not isinstance(name, str) or not _RELEASE_NAME.match(name):
        raise SpecError(f"{at}: name must be lowercase letters, digits, '.', '_' or '-', got {name!r}")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        raise SpecError(f"{at}: version {version!r} must be quoted (YAML reads it as a number)")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise SpecError(f"{at}: version must be letters, digits, '.', '_', '+' or '-', got {version!r}")
    comps = item.get("components")
    if not isinstance(comps, dict) or not comps:
        raise SpecError(f"{at} ({name}): components must map service names to image references")
    refs, vendor = {}, []
    for service, value in comps.items():
        if not isinstance(service, str) or not _SERVICE.match(service):
            raise SpecError(f"{at} ({name}): bad service name {service!r}")
        ref, sbom = parse_component(service, value, base, f"{at} ({name})")
        if not ref.strip():
            raise SpecError(f"{at} ({name}): component {service} needs an image reference")
        refs[service] = ref
        vendor += [sbom] if sbom else []
    compose = item.get("compose")
    compose_path = None
    if compose is not None:
        if not isinstance(compose, str):
            raise SpecError(f"{at} ({name}): compose must be a file path")
        compose_path = base / compose
        check_compose(compose_path, tuple(comps), f"{at} ({name})")
    return ReleaseSpec(name, version, tuple(sorted(refs.items())), compose_path,
                       tuple(sorted(vendor, key=lambda v: v.service)))


def check_compose(path: Path, services: tuple[str, ...], at: str) -> None:
    """A compose template must be YAML with a services mapping naming only known components."""
    try:
        doc = yaml.safe_load(read_file(path, "compose template").decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise SpecError(f"{at}: compose template {path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        raise SpecError(f"{at}: compose template {path} has no services mapping")
    unknown = sorted(set(doc["services"]) - set(services))
    if unknown:
        raise SpecError(f"{at}: compose service {unknown[0]!r} in {path.name} is not a component of the release")


def parse_releases(value: Any, base: Path, where: str) -> tuple[ReleaseSpec, ...]:
    """The ``releases:`` list.

    Raises:
        SpecError: a malformed release, or two releases with the same name and version.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SpecError(f"{where}: releases must be a list")
    releases = [_one(item, i, base, where) for i, item in enumerate(value)]
    seen: set[str] = set()
    for rel in releases:
        if rel.id in seen:
            raise SpecError(f"{where}: release {rel.id} is listed twice")
        seen.add(rel.id)
    return tuple(sorted(releases, key=lambda r: (r.name, r.version)))


def parse_platforms(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ("linux/amd64",)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.count("/") in (1, 2)
                                                            for v in value):
        raise SpecError(f"{where}: platforms must be a list like [linux/amd64, linux/arm64/v8]")
    return tuple(sorted(set(value)))
