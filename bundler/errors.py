"""Root of the errors raised by ``bundler``.

Every bundler error is a ``KitError`` so the CLIs map it to an exit code in one place
(``kind`` says what went wrong, ``entry`` names the image, layer or file concerned).
"""

from __future__ import annotations

from kit.errors import KitError, KitFormatError


class BundlerError(KitError):
    """Something the bundler was asked to do failed; the message names the input."""

    kind = "bundler-error"


class SpecError(KitFormatError):
    """kit.yaml is malformed: unknown key, wrong type, missing input."""

    kind = "bad-spec"
