"""Cataloging an image: merge its layers, run every cataloger, sort the result."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bundler.oci.layout import OCILayout
from bundler.oci.model import PlatformImage, PulledImage
from bundler.sbom.cache import SBOMCache
from bundler.sbom.catalogers import DEFAULT_CATALOGERS, Cataloger
from bundler.sbom.catalogers.apk import INSTALLED
from bundler.sbom.catalogers.dpkg import STATUS
from bundler.sbom.catalogers.osrelease import PATHS as OS_RELEASE, find_distro
from bundler.sbom.layers import LayerLimits, ScanCache, read_layers
from bundler.sbom.model import Catalog, ImageSubject

_HISTORY = frozenset({STATUS, INSTALLED})  # databases whose packages are attributed per layer


def catalog_layers(subject: ImageSubject, layers: Sequence[tuple[str, Path]], *,
                   catalogers: Sequence[Cataloger] = DEFAULT_CATALOGERS,
                   limits: LayerLimits | None = None, scans: ScanCache | None = None) -> Catalog:
    """Catalog an image given its layer blobs (digest, path), base layer first.

    *scans* lets images that share layers read each shared layer once.

    Raises:
        LayerError, HostileLayerError, LayerLimitError: a layer is unreadable or hostile.
    """
    def wants(path: str) -> bool:
        return path in OS_RELEASE or any(c.wants(path) for c in catalogers)

    files = read_layers(str(subject), layers, wants, history=_HISTORY.__contains__,
                        limits=limits, scans=scans, wants_key=("catalogers", tuple(catalogers)))
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
