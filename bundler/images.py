"""Releases → kit entries: images pinned by digest (as an OCI layout), SBOMs, release documents.

Images are pulled byte-exact into a cache layout shared by all builds (blobs fetched once),
cataloged into CycloneDX and SPDX SBOMs (cached by image digest), and described by one
release document per release. SBOMs are dated by their image's own creation time and a
release document by the newest of its images' (``bundler.contenttime``), so unchanged
content keeps its bytes from one kit to the next. Entry paths (docs/kit-format.md):

    blobs/sha256/<hex>                 manifests, indexes, configs, layers — byte-exact
    oci/index.json, oci/oci-layout     the layout's index: one descriptor per image reference
    sboms/<manifest hex>.cdx.json      CycloneDX 1.7, per single-platform image manifest
    sboms/<manifest hex>.spdx.json     SPDX 2.3
    sboms/<manifest hex>.spdx3.json    SPDX 3.0.1 JSON-LD, only when kit.yaml asks (``sboms:``)
    releases/<name>/<version>.json     the release: components pinned by digest
    releases/<name>/<version>/compose.yaml   the release's compose template, if any
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from bundler import vendorsbom
from bundler.contenttime import image_time, newest
from bundler.oci import OCILayout, PulledImage, Puller, RegistryClient, parse_platform, registries_from_dict
from bundler.releases import ReleaseSpec
from bundler.sbom import Catalog, SBOMCache, catalog_pulled, spdx3, to_cyclonedx, to_spdx
from bundler.sbom.catalog import layer_tap, prescan
from bundler.sbom.layers import ScanCache
from kit import canonical
from kit.format import EntrySource
from kit.timeutil import format_time

RELEASE_TYPE = "application/vnd.stella.release+json"
COMPOSE_TYPE = "application/vnd.stella.compose-template+yaml"
CYCLONEDX_TYPE = "application/vnd.cyclonedx+json"
SPDX_TYPE = "application/spdx+json"
# SPDX 3.0.1 has the same media type: the kit manifest's media types take no parameters
# (kit-manifest.schema.json), so the version is in the path (.spdx3.json) and the document.
SPDX3_TYPE = "application/spdx+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
LAYOUT_TYPE = "application/vnd.oci.layout.header.v1+json"
RENDERER = "direct-1"  # bundler.sbom's direct renderer (same bytes as the library writers)
SPDX3_RENDERER = "spdx3-1"  # bundler.sbom.spdx3 (spdx-python-model); bump when its output could change
DEFAULT_SBOMS = ("cyclonedx", "spdx")
# format -> (file suffix, media type, renderer), in kit order
FORMATS: dict[str, tuple[str, str, Callable[[Catalog, dt.datetime], bytes]]] = {
    "cyclonedx": ("cdx", CYCLONEDX_TYPE, to_cyclonedx),
    "spdx": ("spdx", SPDX_TYPE, to_spdx),
    "spdx3": ("spdx3", SPDX3_TYPE, spdx3.to_spdx3),
}

Step = Callable[[str], None]


class ManifestDoc(TypedDict):
    """One platform image of a release component (docs/kit-format.md, stella/release)."""

    digest: str
    platform: str | None
    config: str
    sboms: dict[str, str] | None     # format -> kit path of the SBOM


class ComponentDoc(TypedDict):
    """One service's image, pinned, in a release document."""

    service: str
    reference: str
    image: str
    tag: str | None
    digest: str
    mediaType: str
    sourceDigest: str
    filtered: bool
    manifests: list[ManifestDoc]
    vendorSbom: NotRequired[dict[str, Any]]   # the vendor's own SBOM of the image, when kit.yaml brings one


class ReleaseDoc(TypedDict):
    """The release document a kit carries (``releases/NAME/VERSION.json``)."""

    _type: str
    name: str
    version: str
    created: str
    components: list[ComponentDoc]
    compose: dict[str, str] | None   # {"path": kit path of the compose file}


@dataclass
class ImageSet:
    """Everything the releases add to a kit."""

    sources: list[EntrySource] = field(default_factory=list)
    pulled: dict[str, PulledImage] = field(default_factory=dict)
    releases: list[ReleaseDoc] = field(default_factory=list)
    sbom_seconds: float = 0.0       # wall time the build waited for SBOM work after the pulls
    sbom_work_seconds: float = 0.0  # time of all SBOM work, part of it overlapped with the pulls
    vendor_sboms: list[tuple[str, vendorsbom.Carried]] = field(default_factory=list)  # (release id, SBOM)


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


@dataclass
class _Timing:
    """SBOM cost: the wall time the build waits for it (after the pulls), and the time the
    SBOM work itself takes, most of it overlapped with the pulls (per-image work in wall
    seconds, plus the CPU seconds of the layer scans made during downloads)."""

    wall: float = 0.0
    work: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_work(self, seconds: float) -> None:
        with self.lock:
            self.work += seconds


@dataclass
class _ImageSBOMs:
    """What the SBOM worker made for one pulled image: its catalogs and their documents,
    or the error cataloging it raised (reported later, in reference order)."""

    catalogs: list[Catalog] = field(default_factory=list)
    documents: list[dict[str, bytes]] = field(default_factory=list)   # format -> bytes, per catalog
    error: BaseException | None = None


def _pull_and_scan(refs: Sequence[str], layout: OCILayout, registries: dict[str, Any] | None,
                   platforms: Sequence[str], cache: SBOMCache, scans: ScanCache, created: dt.datetime,
                   timing: _Timing, step: Step | None, formats: Sequence[str] = DEFAULT_SBOMS,
                   ) -> tuple[dict[str, PulledImage], dict[str, _ImageSBOMs]]:
    """Pull each image; scan, catalog and render its SBOMs on a worker thread while the
    next image is pulled.

    Each layer downloaded is also scanned as it arrives (``bundler.sbom.streamscan``), so
    when an image's pull ends its layers are mostly read already. Pulling waits on the
    network and scanning on inflate and hashing, all outside the GIL, so the two overlap;
    cataloging and rendering (pure Python, tens of milliseconds per image) fill the gaps.
    Errors are kept per image and raised by ``_sboms`` in reference order, as if every
    image were cataloged after the pulls.
    """
    sboms: dict[str, _ImageSBOMs] = {}

    def work(ref: str, image: PulledImage) -> None:
        started = time.perf_counter()
        result = sboms[ref] = _ImageSBOMs()
        try:
            prescan(layout.root, [image], scans, cache=cache, workers=1)
            result.catalogs = catalog_pulled(layout.root, image, cache=cache, scans=scans)
            times = {m.digest: image_time(m.created, created) for m in image.manifests}
            result.documents = [_rendered(c, times[c.subject.digest], cache.dir.parent, formats)
                                for c in result.catalogs]
        except Exception as exc:  # noqa: BLE001 - re-raised by _sboms, in reference order
            result.error = exc
        timing.add_work(time.perf_counter() - started)

    with RegistryClient(registries_from_dict(registries), None) as client, \
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="pull") as pulls, \
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="sbom") as sbom_pool:
        puller = Puller(client, layout, [parse_platform(p) for p in platforms],
                        tap_layer=layer_tap(scans, on_cpu=timing.add_work))
        working = []

        def pull(ref: str) -> PulledImage:
            if step:
                step(f"pull {ref}")
            image = puller.pull(ref, ref_name=ref)
            working.append(sbom_pool.submit(work, ref, image))
            return image

        # Two pulls at a time: one waits on the registry while the other hashes.
        pulled = dict(zip(refs, pulls.map(pull, refs)))
        waiting = time.perf_counter()
        for future in list(working):
            future.result()
        timing.wall += time.perf_counter() - waiting
    return pulled, sboms


@lru_cache(maxsize=1)
def _writer_versions() -> tuple[str, ...]:
    from importlib.metadata import version
    return version("cyclonedx-python-lib"), version("spdx-tools"), version("license-expression"), \
        version("packageurl-python")


def _render_key(catalog: Catalog, created: dt.datetime) -> str:
    """What a rendered document depends on: the image, its names, the time (the image's own,
    ``bundler.contenttime.image_time``), the writers."""
    subject = catalog.subject
    return canonical.digest({"subject": [subject.registry, subject.repository, subject.digest, subject.tag,
                                         subject.platform], "created": format_time(created),
                             "cataloger": catalog.cataloger_version, "renderer": RENDERER,
                             "writers": list(_writer_versions())})[7:]


def _cache_name(key: str, fmt: str) -> str:
    """The render cache file of one format. CycloneDX and SPDX 2.3 keep the names they
    always had; SPDX 3 adds its renderer and spdx-python-model's version to the key."""
    if fmt == "spdx3":
        key = canonical.digest({"render": key, "renderer": SPDX3_RENDERER,
                                "library": spdx3.library_version()})[7:]
    return f"{key}.{FORMATS[fmt][0]}.json"


def _rendered(catalog: Catalog, created: dt.datetime, cache_dir: Path,
              formats: Sequence[str] = DEFAULT_SBOMS) -> dict[str, bytes]:
    """The bytes of each of *formats* for one catalog, from the render cache or rendered now.

    The direct renderer takes tens of milliseconds per image (docs/adr/0004), so it runs
    inline on the SBOM worker thread; the cache still saves it on a rebuild. SPDX 3
    (spdx-python-model) takes about 0.17 s per 800 components (docs/sbom.md).
    """
    folder = cache_dir / "rendered"
    key = _render_key(catalog, created)
    docs: dict[str, bytes] = {}
    for fmt in formats:
        path = folder / _cache_name(key, fmt)
        try:
            docs[fmt] = path.read_bytes()
            continue
        except OSError:
            pass
        docs[fmt] = data = FORMATS[fmt][2](catalog, created)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)   # the cache only saves work: a full disk fails nothing here
    return docs


def _sboms(images: dict[str, PulledImage], made: dict[str, _ImageSBOMs], timing: _Timing,
           step: Step | None) -> tuple[list[EntrySource], dict[str, dict[str, str]]]:
    """SBOM entries, and for each manifest digest the paths of its SBOMs.

    The first image (in reference order) whose cataloging failed raises its error.
    """
    started = time.perf_counter()
    documents: dict[str, tuple[Catalog, dict[str, bytes]]] = {}
    for ref in sorted(images):
        if step:
            step(f"sbom {ref}")
        result = made[ref]
        if result.error is not None:
            raise result.error
        for catalog, docs in zip(result.catalogs, result.documents):
            documents.setdefault(catalog.subject.digest, (catalog, docs))
    sources, paths = [], {}
    for digest in sorted(documents):
        catalog, docs = documents[digest]
        hexd = catalog.subject.digest.split(":", 1)[1]
        # The release document names every SBOM of the image (spdx3 only when asked for, so
        # default kits keep their bytes).
        paths[catalog.subject.digest] = {fmt: f"sboms/{hexd}.{suffix}.json"
                                         for fmt, (suffix, _t, _r) in FORMATS.items() if fmt in docs}
        for fmt, (suffix, media_type, _) in FORMATS.items():
            if fmt in docs:
                sources.append(EntrySource(f"sboms/{hexd}.{suffix}.json", media_type, data=docs[fmt]))
    timing.wall += time.perf_counter() - started
    timing.add_work(time.perf_counter() - started)
    return sources, paths


def _component(service: str, ref: str, image: PulledImage, sboms: dict[str, dict[str, str]]) -> ComponentDoc:
    return {
        "service": service, "reference": ref, "image": image.name, "tag": image.tag,
        "digest": image.layout.digest, "mediaType": image.layout.media_type,
        "sourceDigest": image.digest, "filtered": image.filtered,
        "manifests": [{"digest": m.digest, "platform": str(m.platform) if m.platform else None,
                       "config": m.config.digest, "sboms": sboms.get(m.digest)} for m in image.manifests],
    }


def _vendor(rel: ReleaseSpec, components: list[ComponentDoc], loaded: dict[str, vendorsbom.VendorSBOM],
            images: dict[str, PulledImage]) -> tuple[list[EntrySource], list[vendorsbom.Carried]]:
    """Vendor SBOMs checked against the pulled images, named in their component."""
    sources, carried = [], []
    for comp, (svc, ref) in zip(components, rel.components):
        if svc not in loaded:
            continue
        image = images[ref]
        digests = [image.layout.digest, image.digest, *(m.digest for m in image.manifests)]
        item = vendorsbom.carry(loaded[svc], rel.name, rel.version, digests, f"release {rel.id}")
        comp["vendorSbom"] = item.to_doc()
        media = CYCLONEDX_TYPE if item.sbom.format == "cyclonedx" else SPDX_TYPE
        sources.append(EntrySource(item.path, media, data=item.sbom.data))
        carried.append(item)
    return sources, carried


def _release_time(rel: ReleaseSpec, images: dict[str, PulledImage], created: dt.datetime) -> dt.datetime:
    """A release's time: the newest of its images' own times (each falling back to the kit's
    *created*), so an unchanged release keeps its document's bytes from one kit to the next."""
    return newest((image_time(m.created, created) for _, ref in rel.components for m in images[ref].manifests),
                  created)


def _release(rel: ReleaseSpec, images: dict[str, PulledImage], sboms: dict[str, dict[str, str]],
             created: dt.datetime, vendor: dict[str, vendorsbom.VendorSBOM] | None = None
             ) -> tuple[ReleaseDoc, list[EntrySource], list[vendorsbom.Carried]]:
    sources = []
    compose = None
    if rel.compose is not None:
        path = f"releases/{rel.name}/{rel.version}/compose.yaml"
        sources.append(EntrySource(path, COMPOSE_TYPE, file=rel.compose))
        compose = {"path": path}
    components = [_component(svc, ref, images[ref], sboms) for svc, ref in rel.components]
    vendor_sources, carried = _vendor(rel, components, vendor or {}, images)
    doc: ReleaseDoc = {
        "_type": "stella/release", "name": rel.name, "version": rel.version,
        "created": format_time(_release_time(rel, images, created)),
        "components": components, "compose": compose}
    sources.append(EntrySource(f"releases/{rel.name}/{rel.version}.json", RELEASE_TYPE, data=canonical.dumps(doc)))
    return doc, sources + vendor_sources, carried


def collect_images(releases: Sequence[ReleaseSpec], *, registries: dict[str, Any] | None,
                   platforms: Sequence[str], cache_dir: Path, created: dt.datetime,
                   step: Step | None = None, sboms: Sequence[str] = DEFAULT_SBOMS) -> ImageSet:
    """Pull, catalog and describe every release's images; *sboms* are the SBOM formats each
    image manifest gets (``FORMATS`` names; CycloneDX and SPDX 2.3 are always needed).

    Raises:
        OCIError: a registry problem, naming the image (see docs/oci.md).
        SBOMError: a layer that cannot be cataloged, naming image and layer.
    """
    out = ImageSet()
    if not releases:
        return out
    layout = OCILayout(cache_dir / "oci")
    cache, scans, timing = SBOMCache(cache_dir / "sboms"), ScanCache(), _Timing()
    refs = sorted({ref for rel in releases for _, ref in rel.components})
    vendor = {rel.id: {v.service: vendorsbom.load(v, f"release {rel.id}") for v in rel.vendor_sboms}
              for rel in releases}   # checked before anything is pulled
    formats = [fmt for fmt in FORMATS if fmt in sboms or fmt in DEFAULT_SBOMS]
    out.pulled, made = _pull_and_scan(refs, layout, registries, platforms, cache, scans, created, timing, step,
                                      formats)
    sbom_sources, sbom_paths = _sboms(out.pulled, made, timing, step)
    out.sbom_seconds, out.sbom_work_seconds = timing.wall, timing.work
    types = _blob_types(list(out.pulled.values()))
    # The layout verified every blob's digest when it stored or re-opened it in this build,
    # so the kit writer need not hash them again (a later change fails its stat check).
    out.sources += [EntrySource(f"blobs/sha256/{d.split(':', 1)[1]}", types[d], file=layout.blob_path(d),
                                sha256=d.split(":", 1)[1]) for d in sorted(types)]
    index = {"schemaVersion": 2, "mediaType": INDEX_TYPE,
             "manifests": [out.pulled[ref].layout.to_dict() for ref in refs]}
    out.sources.append(EntrySource("oci/index.json", INDEX_TYPE, data=canonical.dumps(index)))
    layout_marker = canonical.dumps({"imageLayoutVersion": "1.0.0"})
    out.sources.append(EntrySource("oci/oci-layout", LAYOUT_TYPE, data=layout_marker))
    out.sources += sbom_sources
    for rel in releases:
        doc, sources, carried = _release(rel, out.pulled, sbom_paths, created, vendor[rel.id])
        out.releases.append(doc)
        out.sources += sources
        out.vendor_sboms += [(rel.id, c) for c in carried]
    return out
