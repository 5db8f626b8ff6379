"""Releases → kit entries: images pinned by digest (as an OCI layout), SBOMs, release documents.

Images are pulled byte-exact into a cache layout shared by all builds (blobs fetched once),
cataloged into CycloneDX and SPDX SBOMs (cached by image digest), and described by one
release document per release. Entry paths (docs/kit-format.md):

    blobs/sha256/<hex>                 manifests, indexes, configs, layers — byte-exact
    oci/index.json, oci/oci-layout     the layout's index: one descriptor per image reference
    sboms/<manifest hex>.cdx.json      CycloneDX 1.7, per single-platform image manifest
    sboms/<manifest hex>.spdx.json     SPDX 2.3
    releases/<name>/<version>.json     the release: components pinned by digest
    releases/<name>/<version>/compose.yaml   the release's compose template, if any
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.oci import (OCILayout, PulledImage, Puller, RegistryClient, parse_platform,
                         registries_from_dict)
from bundler.releases import ReleaseSpec
from bundler.sbom import SBOMCache, catalog_pulled, to_cyclonedx, to_spdx
from bundler.sbom.catalog import prescan
from bundler.sbom.layers import ScanCache
from kit import canonical
from kit.format import EntrySource

RELEASE_TYPE = "application/vnd.stella.release+json"
COMPOSE_TYPE = "application/vnd.stella.compose-template+yaml"
CYCLONEDX_TYPE = "application/vnd.cyclonedx+json"
SPDX_TYPE = "application/spdx+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
LAYOUT_TYPE = "application/vnd.oci.layout.header.v1+json"

Step = Callable[[str], None]


@dataclass
class ImageSet:
    """Everything the releases add to a kit."""

    sources: list[EntrySource] = field(default_factory=list)
    pulled: dict[str, PulledImage] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)
    sbom_seconds: float = 0.0


def _blob_types(images: Sequence[PulledImage]) -> dict[str, str]:
    """Media type of every blob, from the manifests that name it (first name wins, sorted)."""
    seen: dict[str, set[str]] = {}
    for image in images:
        seen.setdefault(image.layout.digest, set()).add(image.layout.media_type)
        for m in image.manifests:
            seen.setdefault(m.digest, set()).add(m.media_type)
            seen.setdefault(m.config.digest, set()).add(m.config.media_type)
            for layer in m.layers:
                seen.setdefault(layer.digest, set()).add(layer.media_type)
    return {digest: sorted(types)[0] for digest, types in seen.items()}


def _pull(refs: Sequence[str], layout: OCILayout, registries: dict[str, Any] | None, platforms: Sequence[str],
          step: Step | None) -> dict[str, PulledImage]:
    pulled: dict[str, PulledImage] = {}
    with RegistryClient(registries_from_dict(registries), None) as client:
        puller = Puller(client, layout, [parse_platform(p) for p in platforms])
        for ref in refs:
            if step:
                step(f"pull {ref}")
            pulled[ref] = puller.pull(ref, ref_name=ref)
    return pulled


def _sboms(images: dict[str, PulledImage], layout: OCILayout, cache: SBOMCache, created: dt.datetime,
           step: Step | None) -> tuple[list[EntrySource], dict[str, dict[str, str]]]:
    """SBOM entries, and for each manifest digest the paths of its SBOMs."""
    sources, paths = [], {}
    scans = ScanCache()  # layers shared by several images are read once
    prescan(layout.root, [image for _ref, image in sorted(images.items())], scans, cache=cache,
            workers=min(4, os.cpu_count() or 1))
    for ref, image in sorted(images.items()):
        if step:
            step(f"sbom {ref}")
        for catalog in catalog_pulled(layout.root, image, cache=cache, scans=scans):
            digest = catalog.subject.digest
            if digest in paths:
                continue
            hexd = digest.split(":", 1)[1]
            paths[digest] = {"cyclonedx": f"sboms/{hexd}.cdx.json", "spdx": f"sboms/{hexd}.spdx.json"}
            sources.append(EntrySource(paths[digest]["cyclonedx"], CYCLONEDX_TYPE, data=to_cyclonedx(catalog, created)))
            sources.append(EntrySource(paths[digest]["spdx"], SPDX_TYPE, data=to_spdx(catalog, created)))
    return sources, paths


def _component(service: str, ref: str, image: PulledImage, sboms: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "service": service, "reference": ref, "image": image.name, "tag": image.tag,
        "digest": image.layout.digest, "mediaType": image.layout.media_type,
        "sourceDigest": image.digest, "filtered": image.filtered,
        "manifests": [{"digest": m.digest, "platform": str(m.platform) if m.platform else None,
                       "config": m.config.digest, "sboms": sboms.get(m.digest)} for m in image.manifests],
    }


def _release(rel: ReleaseSpec, images: dict[str, PulledImage], sboms: dict[str, dict[str, str]],
             created: dt.datetime) -> tuple[dict[str, Any], list[EntrySource]]:
    from kit.timeutil import format_time
    sources = []
    compose = None
    if rel.compose is not None:
        path = f"releases/{rel.name}/{rel.version}/compose.yaml"
        sources.append(EntrySource(path, COMPOSE_TYPE, file=rel.compose))
        compose = {"path": path}
    doc = {"_type": "stella/release", "name": rel.name, "version": rel.version, "created": format_time(created),
           "components": [_component(svc, ref, images[ref], sboms) for svc, ref in rel.components],
           "compose": compose}
    sources.append(EntrySource(f"releases/{rel.name}/{rel.version}.json", RELEASE_TYPE, data=canonical.dumps(doc)))
    return doc, sources


def collect_images(releases: Sequence[ReleaseSpec], *, registries: dict[str, Any] | None,
                   platforms: Sequence[str], cache_dir: Path, created: dt.datetime,
                   step: Step | None = None) -> ImageSet:
    """Pull, catalog and describe every release's images.

    Raises:
        OCIError: a registry problem, naming the image (see docs/oci.md).
        SBOMError: a layer that cannot be cataloged, naming image and layer.
    """
    import time
    out = ImageSet()
    if not releases:
        return out
    layout = OCILayout(cache_dir / "oci")
    refs = sorted({ref for rel in releases for _, ref in rel.components})
    out.pulled = _pull(refs, layout, registries, platforms, step)
    started = time.perf_counter()
    sbom_sources, sbom_paths = _sboms(out.pulled, layout, SBOMCache(cache_dir / "sboms"), created, step)
    out.sbom_seconds = time.perf_counter() - started
    types = _blob_types(list(out.pulled.values()))
    out.sources += [EntrySource(f"blobs/sha256/{d.split(':', 1)[1]}", types[d], file=layout.blob_path(d))
                    for d in sorted(types)]
    index = {"schemaVersion": 2, "mediaType": INDEX_TYPE,
             "manifests": [out.pulled[ref].layout.to_dict() for ref in refs]}
    out.sources.append(EntrySource("oci/index.json", INDEX_TYPE, data=canonical.dumps(index)))
    out.sources.append(EntrySource("oci/oci-layout", LAYOUT_TYPE, data=canonical.dumps({"imageLayoutVersion": "1.0.0"})))
    out.sources += sbom_sources
    for rel in releases:
        doc, sources = _release(rel, out.pulled, sbom_paths, created)
        out.releases.append(doc)
        out.sources += sources
    return out
