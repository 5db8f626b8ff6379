"""Root of the errors raised by ``bundler``.

Every bundler error is a ``StellaError`` whose class gives its name (``kind``) and exit
code, so the CLIs map it in one place; ``entry`` names the image, layer or file concerned.
"""

from __future__ import annotations

from kit.errors import Malformed, StellaError


class BundlerError(StellaError):
    """Something the bundler was asked to do failed; the message names the input."""


class SpecError(BundlerError, Malformed):
    """kit.yaml is malformed: unknown key, wrong type, missing input."""

    kind = "bad-spec"
