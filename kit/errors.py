"""The error hierarchy of the kit core.

Two roots matter to users, as in sigstore: input that cannot be read as what it claims
to be (``KitFormatError``, "malformed") and input that reads fine but fails a check
(``KitVerificationError``, "refused"). Each carries a short machine-readable ``kind``
(the attack or problem, e.g. ``digest-mismatch``) and the ``entry`` it concerns, so
reports and messages can name both. CLIs map the classes to exit codes in one place.
"""

from __future__ import annotations


class KitError(Exception):
    """Root of every error raised by ``kit``."""

    kind: str = "error"

    def __init__(self, message: str, *, kind: str | None = None, entry: str | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.entry = entry

    @property
    def message(self) -> str:
        return str(self.args[0])

    def one_line(self) -> str:
        """The message with the entry named, on one line."""
        text = self.message.replace("\n", " ")
        if self.entry and self.entry not in text:
            text = f"{text} (entry {self.entry})"
        return f"{self.kind}: {text}"


class KitFormatError(KitError):
    """The input is not a well-formed kit, envelope, trust root or document."""

    kind = "malformed"


class KitVerificationError(KitError):
    """The input is well formed but a signature, digest, expiry or policy check failed."""

    kind = "verification-failed"


class KitLimitError(KitVerificationError):
    """The input would exceed a configured limit (size, count, memory)."""

    kind = "limit-exceeded"


class KitIOError(KitError):
    """Reading or writing a file failed."""

    kind = "io-error"


def exit_code_for(error: KitError) -> int:
    """The documented exit code of *error* (docs/cli.md): the class decides."""
    from kit import exitcodes
    conflict = getattr(error, "exit_code", None)
    if isinstance(conflict, int):
        return conflict
    if isinstance(error, KitVerificationError):
        return exitcodes.REFUSED
    if isinstance(error, KitFormatError):
        return exitcodes.MALFORMED
    return exitcodes.IO_ERROR
