"""Errors of the findings engine.

Malformed input (an OSV record, an SBOM, a VEX document that cannot be read as what it
claims to be) is a ``FindingsFormatError``; every error names the file and the record
it concerns, so the CLI prints one line an operator can act on. Loaders collect these as
``Problem`` values instead of raising, so one bad record never hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.errors import MAX_LINE, MAX_NAME, IOFailure, KitError, KitFormatError, KitIOError, cut


class FindingsError(KitError):
    """Root of the findings engine's errors."""


class InvalidVersion(FindingsError, IOFailure, ValueError):
    """A version string is not valid for its ecosystem's rules."""

    kind = "invalid-version"


class UnsupportedEcosystem(FindingsError, IOFailure):
    """An advisory or component names an ecosystem the findings engine has no version rules for."""

    kind = "unsupported-ecosystem"


class FindingsFormatError(FindingsError, KitFormatError):
    """An advisory, SBOM, VEX document or config is malformed."""

    kind = "malformed"


class FindingsIOError(FindingsError, KitIOError):
    """A file or folder given as input cannot be read."""

    kind = "io-error"


@dataclass(frozen=True, order=True)
class Problem:
    """A record that was skipped, with where it came from and why.

    Ordered by (file, record, message) so reports list problems in a stable order.
    """

    file: str
    record: str
    message: str

    def one_line(self) -> str:
        """One line, names and the whole line cut as error lines are (``--json`` keeps them whole)."""
        record = f" record {cut(self.record, MAX_NAME)}" if self.record else ""
        return cut(f"{cut(self.file, MAX_NAME)}{record}: {self.message}".replace("\n", " "), MAX_LINE)

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "record": self.record, "message": self.message}
