"""Errors of the SBOM catalogers; each names the image and, where it applies, the layer."""

from __future__ import annotations

from bundler.errors import BundlerError
from kit import exitcodes


class SBOMError(BundlerError):
    """Root of every cataloging or SBOM-writing error."""

    kind = "sbom-error"
    exit_code = exitcodes.IO_ERROR


class LayerError(SBOMError):
    """A layer is not a readable tar (bad compression, not tar, truncated)."""

    kind = "bad-layer"
    exit_code = exitcodes.MALFORMED


class HostileLayerError(LayerError):
    """A layer entry tries to escape the image root (``..`` in its name)."""

    kind = "path-traversal"
    exit_code = exitcodes.REFUSED


class LayerLimitError(SBOMError):
    """A layer or a kept file is larger, or has more entries, than the limits allow."""

    kind = "limit-exceeded"
    exit_code = exitcodes.REFUSED
