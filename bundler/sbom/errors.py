"""Errors of the SBOM catalogers; each names the image and, where it applies, the layer."""

from __future__ import annotations

from bundler.errors import BundlerError
from kit.errors import IOFailure, LimitExceeded, Malformed, Refused


class SBOMError(BundlerError):
    """Root of every cataloging or SBOM-writing error."""


class LayerError(SBOMError, Malformed):
    """A layer is not a readable tar (bad compression, not tar, truncated)."""

    kind = "bad-layer"


class HostileLayerError(SBOMError, Refused):
    """A layer entry tries to escape the image root (``..`` in its name)."""

    kind = "path-traversal"


class LayerLimitError(SBOMError, LimitExceeded):
    """A layer or a kept file is larger, or has more entries, than the limits allow."""

    kind = "limit-exceeded"


class BadSBOMOption(SBOMError, IOFailure):
    """An SBOM renderer was given an option it does not support."""

    kind = "bad-option"


class InvalidSBOM(SBOMError, IOFailure):
    """A catalog cannot be written as a valid SBOM (a purl that does not parse, an empty license)."""

    kind = "invalid-sbom"


class PackageDatabaseError(SBOMError, Malformed):
    """A package database in an image is corrupt (an rpmdb page, chain or header)."""

    kind = "bad-package-db"
