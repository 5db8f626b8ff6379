"""Errors of the OCI registry client; each message names the image and the problem.

``exit_code`` lets the CLI map a failure to ``kit.exitcodes`` without a lookup table.
"""

from __future__ import annotations

from bundler.errors import BundlerError
from kit import exitcodes


class OCIError(BundlerError):
    """Root of every registry, manifest or layout error."""

    kind = "oci-error"
    exit_code = exitcodes.IO_ERROR


class BadReferenceError(OCIError):
    """An image reference cannot be parsed."""

    kind = "bad-reference"
    exit_code = exitcodes.USAGE


class RegistryUnreachableError(OCIError):
    """The registry did not answer (connection refused, DNS, TLS, timeout)."""

    kind = "registry-unreachable"


class AuthError(OCIError):
    """The registry refused our credentials (or asked for some and we have none)."""

    kind = "auth-failed"


class NotFoundError(OCIError):
    """The repository, tag, manifest or blob does not exist in the registry."""

    kind = "not-found"


class RegistryResponseError(OCIError):
    """The registry answered with an unexpected status or a malformed body."""

    kind = "registry-error"
    exit_code = exitcodes.MALFORMED


class DigestMismatchError(OCIError):
    """Bytes received do not hash to the digest that names them."""

    kind = "digest-mismatch"
    exit_code = exitcodes.REFUSED


class SizeMismatchError(OCIError):
    """A blob is longer or shorter than its descriptor says."""

    kind = "size-mismatch"
    exit_code = exitcodes.REFUSED


class LimitExceededError(OCIError):
    """A manifest, blob or image is larger than the configured limits allow."""

    kind = "limit-exceeded"
    exit_code = exitcodes.REFUSED


class UnsupportedMediaTypeError(OCIError):
    """A manifest or layer media type we refuse to handle (schema 1, zstd for dockerd 20.10, ...)."""

    kind = "unsupported-media-type"
    exit_code = exitcodes.MALFORMED


class PlatformError(OCIError):
    """No manifest matches the requested platforms."""

    kind = "platform-not-found"
    exit_code = exitcodes.REFUSED
