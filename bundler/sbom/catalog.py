"""Cataloging an image: merge its layers, run every cataloger, sort the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bundler.oci.layout import Descriptor, OCILayout
from bundler.oci.model import PlatformImage, PulledImage
from bundler.oci.pull import LayerTap
from bundler.sbom.cache import SBOMCache
from bundler.sbom.catalogers import DEFAULT_CATALOGERS, Cataloger
from bundler.sbom.catalogers.apk import INSTALLED
from bundler.sbom.catalogers.dpkg import STATUS
from bundler.sbom.catalogers.osrelease import PATHS as OS_RELEASE, find_distro
from bundler.sbom.catalogers.rpm import DATABASES as RPM_DATABASES
from bundler.sbom.errors import SBOMError
from bundler.sbom.layers import LayerLimits, ScanCache, read_layers, scan_layer
from bundler.sbom.model import Catalog, ImageSubject
from bundler.sbom.probe import ContentProbe, Probes, Tap
from bundler.sbom.streamscan import StreamingScan

_HISTORY = frozenset({STATUS, INSTALLED, *RPM_DATABASES})  # databases whose packages are attributed per layer


def _wants(catalogers: Sequence[Cataloger]) -> tuple[Callable[[str], bool], object, ContentProbe | None]:
    def wants(path: str) -> bool:
        return path in OS_RELEASE or any(c.wants(path) for c in catalogers)
    found = list(dict.fromkeys(c.probe for c in catalogers if c.probe is not None))
    readers = tuple(p for p in found if isinstance(p, ContentProbe))
    taps = tuple(p for p in found if isinstance(p, Tap) and not isinstance(p, ContentProbe))
    probe: ContentProbe | None = None
    if taps or len(readers) > 1:
        probe = Probes(readers, taps)       # several look into files read once
    elif readers:
        probe = readers[0]
    return wants, ("catalogers", tuple(catalogers)), probe


def catalog_layers(subject: ImageSubject, layers: Sequence[tuple[str, Path]], *,
                   catalogers: Sequence[Cataloger] = DEFAULT_CATALOGERS,
                   limits: LayerLimits | None = None, scans: ScanCache | None = None) -> Catalog:
    """Catalog an image given its layer blobs (digest, path), base layer first.

    *scans* lets images that share layers read each shared layer once.

    Raises:
        LayerError, HostileLayerError, LayerLimitError: a layer is unreadable or hostile.
    """
    wants, wants_key, probe = _wants(catalogers)
    files = read_layers(str(subject), layers, wants, history=_HISTORY.__contains__,
                        limits=limits, scans=scans, wants_key=wants_key, probe=probe)
    distro = find_distro(files)
    components = [comp for c in catalogers for comp in c.catalog(files, distro, str(subject))]
    return Catalog(subject, tuple(sorted(components)), distro)


def catalog_image(layout_dir: Path, image: PlatformImage, subject: ImageSubject, *,
                  cache: SBOMCache | None = None, limits: LayerLimits | None = None,
                  catalogers: Sequence[Cataloger] = DEFAULT_CATALOGERS,
                  scans: ScanCache | None = None) -> Catalog:
    """Catalog one pulled platform image from the layout, through the cache if given."""
    if cache is not None:
        hit = cache.get(subject)
        if hit is not None:
            return hit
    layout = OCILayout(layout_dir)
    layers = [(layer.digest, layout.blob_path(layer.digest)) for layer in image.layers]
    result = catalog_layers(subject, layers, catalogers=catalogers, limits=limits,
                            scans=scans)
    if cache is not None:
        cache.put(result)
    return result


def catalog_pulled(layout_dir: Path, pulled: PulledImage, *, cache: SBOMCache | None = None,
                   limits: LayerLimits | None = None,
                   scans: ScanCache | None = None) -> list[Catalog]:
    """One catalog per platform manifest kept by the pull (an index gives several)."""
    out = []
    for image in pulled.manifests:
        subject = ImageSubject(pulled.registry, pulled.repository, image.digest, pulled.tag,
                               str(image.platform) if image.platform else None)
        out.append(catalog_image(layout_dir, image, subject, cache=cache, limits=limits,
                                 scans=scans))
    return out


def layer_tap(scans: ScanCache, limits: LayerLimits | None = None,
              on_cpu: Callable[[float], None] | None = None) -> Callable[[Descriptor], LayerTap | None]:
    """For ``Puller(tap_layer=…)``: scan each downloaded layer into *scans* as it arrives,
    with the default catalogers' selection (what :func:`prescan` and cataloging look up);
    *on_cpu* gets each scan's CPU seconds."""
    limits = limits or LayerLimits()
    wants, wants_key, probe = _wants(DEFAULT_CATALOGERS)

    def tap(desc: Descriptor) -> LayerTap | None:
        scan = StreamingScan(desc.digest, (desc.digest, wants_key, limits), scans, wants, limits, probe,
                             on_cpu)
        return scan if scan.active else None
    return tap


def prescan(layout_dir: Path, images: Sequence[PulledImage], scans: ScanCache, *,
            cache: SBOMCache | None = None, limits: LayerLimits | None = None,
            workers: int = 2) -> None:
    """Scan the distinct layers of *images* into *scans*, *workers* layers at a time.

    Decompression runs outside the GIL, so threads overlap it. Images already in *cache*
    are skipped. A layer that fails is left out: cataloging then reads it again and
    reports the error, naming the image, exactly as without the prescan.
    """
    limits = limits or LayerLimits()
    wants, wants_key, probe = _wants(DEFAULT_CATALOGERS)
    layout = OCILayout(layout_dir)
    todo: dict[str, Path] = {}
    for pulled in images:
        for image in pulled.manifests:
            if cache is not None and cache.dir.joinpath(
                    f"{image.digest.removeprefix('sha256:')}.json").is_file():
                continue
            for layer in image.layers:
                todo.setdefault(layer.digest, layout.blob_path(layer.digest))

    def scan(digest: str) -> None:
        key = (digest, wants_key, limits)
        if scans.get(key) is None:
            try:
                scans.put(key, scan_layer(digest, todo[digest], wants, limits, f"layer {digest}", probe))
            except SBOMError:
                pass

    # biggest first, so the last layer to finish is a small one
    order = sorted(todo, key=lambda d: (-todo[d].stat().st_size, d))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(scan, order))
