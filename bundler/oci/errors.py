"""Errors of the OCI registry client; each message names the image and the problem.

Each class names its exit-code category (``kit.errors``), so the CLI maps a failure to
``kit.exitcodes`` without a lookup table.
"""

from __future__ import annotations

from bundler.errors import BundlerError
from kit.errors import IOFailure, LimitExceeded, Malformed, Refused, Usage


class OCIError(BundlerError):
    """Root of every registry, manifest or layout error."""


class BadReferenceError(OCIError, Usage):
    """An image reference cannot be parsed."""

    kind = "bad-reference"


class RegistryUnreachableError(OCIError, IOFailure):
    """The registry did not answer (connection refused, DNS, TLS, timeout)."""

    kind = "registry-unreachable"


class AuthError(OCIError, IOFailure):
    """The registry refused our credentials (or asked for some and we have none)."""

    kind = "auth-failed"


class NotFoundError(OCIError, IOFailure):
    """The repository, tag, manifest or blob does not exist in the registry."""

    kind = "not-found"


class RegistryResponseError(OCIError, Malformed):
    """The registry answered with an unexpected status or a malformed body."""

    kind = "registry-error"


class DigestMismatchError(OCIError, Refused):
    """Bytes received do not hash to the digest that names them."""

    kind = "digest-mismatch"


class SizeMismatchError(OCIError, Refused):
    """A blob is longer or shorter than its descriptor says."""

    kind = "size-mismatch"


class LimitExceededError(OCIError, LimitExceeded):
    """A manifest, blob or image is larger than the configured limits allow."""

    kind = "limit-exceeded"


class UnsupportedMediaTypeError(OCIError, Malformed):
    """A manifest or layer media type we refuse to handle (schema 1, zstd for dockerd 20.10, ...)."""

    kind = "unsupported-media-type"


class PlatformError(OCIError, Refused):
    """No manifest matches the requested platforms."""

    kind = "platform-not-found"


class BadRegistryConfig(OCIError, IOFailure):
    """The registries configuration file cannot be read as one."""

    kind = "bad-config"


class BadDigest(OCIError, IOFailure):
    """A digest in an OCI layout is not ``sha256:`` and 64 hex digits."""

    kind = "bad-digest"


class MissingBlob(OCIError, IOFailure):
    """A blob an OCI layout refers to is not in the layout."""

    kind = "missing-blob"
