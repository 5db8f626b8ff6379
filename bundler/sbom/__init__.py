"""SBOM catalogers and writers (see docs/sbom.md).

Public API::

    catalog_pulled(layout_dir, pulled_image, cache=SBOMCache(dir)) -> list[Catalog]
    catalog_image(layout_dir, platform_image, subject, cache=...) -> Catalog
    to_cyclonedx(catalog, created, spec_version="1.7") -> bytes
    to_spdx(catalog, created) -> bytes
    to_spdx3(catalog, created) -> bytes          # SPDX 3.0.1 JSON-LD, via spdx-python-model

The writers render plain dicts directly; ``bundler.sbom.reference`` keeps the
cyclonedx-python-lib / spdx-tools writers they match byte for byte, for the tests
(docs/adr/0004-sbom-direct-renderer.md).
"""

from __future__ import annotations

from bundler.sbom.cache import SBOMCache
from bundler.sbom.catalog import catalog_image, catalog_layers, catalog_pulled
from bundler.sbom.cyclonedx import to_cyclonedx
from bundler.sbom.errors import SBOMError
from bundler.sbom.layers import LayerLimits
from bundler.sbom.model import CATALOGER_VERSION, Catalog, Component, Distro, ImageSubject
from bundler.sbom.spdx import to_spdx
from bundler.sbom.spdx3 import to_spdx3

__all__ = ["CATALOGER_VERSION", "Catalog", "Component", "Distro", "ImageSubject", "LayerLimits",
           "SBOMCache", "SBOMError", "catalog_image", "catalog_layers", "catalog_pulled",
           "to_cyclonedx", "to_spdx", "to_spdx3"]
