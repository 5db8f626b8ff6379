"""The error hierarchy: every error a Stella command reports is a class.

A class states its documented name (``kind``, printed as ``KIND: message (entry PATH)``)
and its exit code (``exit_code``, from :mod:`kit.exitcodes`); code that must tell errors
apart uses ``isinstance``, never a string. The exit code comes from one of five category
mixins (refused 1, usage 2, malformed 3, I/O or internal 4, conflict 5), stated once here;
each package has one root under ``StellaError`` (``KitError``, ``BundlerError``,
``ApplianceError``) and each kind derives from its package root and one category, e.g.
``class BaseMissing(RefusedError)`` where ``RefusedError(ApplianceError, Refused)``.

Two roots matter to users of the kit, as in sigstore: input that cannot be read as what
it claims to be (``KitFormatError``, "malformed") and input that reads fine but fails a
check (``KitVerificationError``, "refused"). The same printed name may exist at two exit
codes when it means two things (``unsafe-path`` in the signed index is malformed, in the
stream it is refused): two classes, named by meaning. docs/cli.md lists every kind; it is
generated from these classes (``scripts/errordocs.py``).
"""

from __future__ import annotations

from typing import ClassVar

from kit import exitcodes

MAX_NAME = 200      # characters of a name (entry, path) an error line shows
MAX_LINE = 600      # characters of an error line


def cut(text: str, limit: int) -> str:
    """*text* if it fits in *limit* characters, else its head and tail around ``…[N chars]…``."""
    if len(text) <= limit:
        return text
    marker = f"…[{len(text)} chars]…"
    keep = max(limit - len(marker), 2)
    return text[:keep * 3 // 4] + marker + text[len(text) - keep // 4:]


class StellaError(Exception):
    """Root of every error a Stella command reports."""

    kind: ClassVar[str] = "error"
    exit_code: ClassVar[int] = exitcodes.IO_ERROR       # no category: an internal error

    def __init__(self, message: str, *, entry: str | None = None) -> None:
        super().__init__(message)
        self.entry = entry

    @property
    def message(self) -> str:
        return str(self.args[0])

    def detail(self) -> str:
        """The message with the entry named, on one line (what the CLI and the API print).

        A hostile input can make a name as long as a limit allows (a 64 KiB pax path): the
        entry is cut to ``MAX_NAME`` characters and the whole line to ``MAX_LINE``, head and
        tail kept, so an error stays one readable line.
        """
        text = self.message.replace("\n", " ").replace("\r", " ")
        if self.entry and self.entry not in text:
            text = f"{text} (entry {cut(self.entry, MAX_NAME)})"
        return cut(text, MAX_LINE)

    def one_line(self) -> str:
        """``KIND: detail``, as the CLI prints it."""
        return f"{self.kind}: {self.detail()}"


# The exit-code categories (docs/cli.md "Exit codes"), as mixins: a kind names its package
# root first, then one category, e.g. ``class Locked(ApplianceError, Conflict)``.

class Refused(StellaError):
    """A check refused the input or the operation (exit 1)."""

    exit_code = exitcodes.REFUSED


class LimitExceeded(Refused):
    """The input would exceed a configured limit (exit 1)."""


class Usage(StellaError):
    """A bad command line, or a name the appliance does not know (exit 2)."""

    exit_code = exitcodes.USAGE


class Malformed(StellaError):
    """The input is not what it claims to be (exit 3)."""

    exit_code = exitcodes.MALFORMED


class IOFailure(StellaError):
    """Reading, writing or reaching something failed, or an internal error (exit 4)."""

    exit_code = exitcodes.IO_ERROR


class Conflict(StellaError):
    """Already running, older than active, or already exists (exit 5)."""

    exit_code = exitcodes.CONFLICT


CATEGORIES: tuple[type[StellaError], ...] = (Refused, Usage, Malformed, IOFailure, Conflict)


class KitError(StellaError):
    """Root of every error raised by ``kit``."""


class KitFormatError(KitError, Malformed):
    """The input is not a well-formed kit, envelope, trust root or document."""

    kind = "malformed"


class KitVerificationError(KitError, Refused):
    """The input is well formed but a signature, digest, expiry or policy check failed."""

    kind = "verification-failed"


class KitLimitError(KitVerificationError, LimitExceeded):
    """A declared size, count or header exceeds a limit."""

    kind = "limit-exceeded"


class KitIOError(KitError, IOFailure):
    """Reading or writing a file failed."""

    kind = "io-error"


class BadUsage(KitError, Usage):
    """A bad command line: unknown command or option, missing or invalid argument."""

    kind = "usage"


# --- malformed (exit 3) -------------------------------------------------------------------

class NotAKit(KitFormatError):
    """Not zstd, not tar, empty, or the first member is not the kit manifest."""

    kind = "not-a-kit"


class MalformedEnvelope(KitFormatError):
    """A DSSE envelope is not canonical JSON or lacks a field."""

    kind = "malformed-envelope"


class MalformedPayload(KitFormatError):
    """A signed payload is not the JSON document it claims to be."""

    kind = "malformed-payload"


class SchemaError(KitFormatError):
    """A document does not match its schema or the rules a schema cannot say."""

    kind = "schema"


class UnknownVersion(KitFormatError):
    """A document's format version is one this tool does not read."""

    kind = "unknown-version"


class UnsafeIndexPath(KitFormatError):
    """A path in a signed index (or a kit being written) is absolute, has ``..`` or is not normalised."""

    kind = "unsafe-path"


class DuplicateIndexEntry(KitFormatError):
    """A path is listed twice in an index being written or read."""

    kind = "duplicate-entry"


class UnsortedIndex(KitFormatError):
    """The signed index is not strictly sorted by path."""

    kind = "unsorted-index"


class NoSigningKey(KitFormatError):
    """A kit was to be written without a signing key."""

    kind = "unsigned"


class BadKey(KitFormatError):
    """A key (PEM, public key document or trust-root key) cannot be read."""

    kind = "bad-key"


class InputTooLarge(KitFormatError):
    """A file named to a command is larger than its limit (docs/cli.md "Limits"); it is not read."""

    kind = "limit-exceeded"


class SpecialFile(KitFormatError):
    """A file named to a command is a FIFO, device, socket or folder: refused by name, never read."""

    kind = "special-file"


class NotATrustRoot(KitFormatError):
    """The document is not a Stella trust root."""

    kind = "not-a-trust-root"


class NotASticker(KitFormatError):
    """The document is not a Stella deploy sticker."""

    kind = "not-a-sticker"


class NotAnImportRecord(KitFormatError):
    """The document is not a Stella import record."""

    kind = "not-an-import-record"


class NotAnEvidencePacket(KitFormatError):
    """The document is not a Stella evidence packet."""

    kind = "not-an-evidence-packet"


class BadGateInput(KitFormatError):
    """A policy-gate input (findings, approvals, policy) cannot be read."""

    kind = "bad-input"


class GateInputDigestMismatch(KitFormatError):
    """A policy-gate input does not hash to the digest that names it."""

    kind = "input-digest-mismatch"


class BadDuration(KitFormatError):
    """A freeze-window duration is not a duration."""

    kind = "bad-duration"


class BadWindow(KitFormatError):
    """A freeze window is not well formed (missing fields, end before start)."""

    kind = "bad-window"


class BadTimezone(KitFormatError):
    """A freeze window names an unknown time zone."""

    kind = "bad-timezone"


class BadRrule(KitFormatError):
    """A freeze window's recurrence rule cannot be parsed."""

    kind = "bad-rrule"


class InvalidWorkflow(KitFormatError):
    """A workflow template has problems, each named by its path (``steps[3].with.window``)."""

    kind = "invalid-workflow"

    def __init__(self, message: str, *, problems: tuple[tuple[str, str], ...] = (), entry: str | None = None) -> None:
        super().__init__(message, entry=entry)
        self.problems = problems


# --- refused (exit 1) ---------------------------------------------------------------------

class WrongPayloadType(KitVerificationError):
    """A signed envelope carries another payload type than expected."""

    kind = "wrong-payload-type"


class BadSignature(KitVerificationError):
    """A signature does not verify."""

    kind = "bad-signature"


class Unsigned(KitVerificationError):
    """A signed document carries no signature."""

    kind = "unsigned"


class UntrustedKey(KitVerificationError):
    """A document is signed only by keys the trust root does not know."""

    kind = "untrusted-key"


class ThresholdNotMet(KitVerificationError):
    """Fewer trusted keys signed than the threshold requires."""

    kind = "threshold-not-met"


class WrongChannel(KitVerificationError):
    """A kit or trust root is for another channel than the one expected."""

    kind = "wrong-channel"


class Expired(KitVerificationError):
    """The kit has expired."""

    kind = "expired"


class ExpiredRoot(KitVerificationError):
    """The trust root has expired."""

    kind = "expired-root"


class RootChainGap(KitVerificationError):
    """A trust-root update skips a version, or is not signed by the previous root."""

    kind = "root-chain-gap"


class DigestMismatch(KitVerificationError):
    """Bytes do not hash to the digest the signed index (or packet) gives them."""

    kind = "digest-mismatch"


class ManifestMismatch(KitVerificationError):
    """An evidence packet's files are not the ones its manifest lists."""

    kind = "manifest-mismatch"


class MissingEntry(KitVerificationError):
    """The archive ends before an entry of the signed index."""

    kind = "missing-entry"


class EntryNotInIndex(KitVerificationError):
    """The stream holds an entry the signed index does not list."""

    kind = "entry-not-in-index"


class DuplicateEntry(KitVerificationError):
    """The stream holds an entry twice."""

    kind = "duplicate-entry"


class OutOfOrder(KitVerificationError):
    """The stream's entries are not in the signed index's order."""

    kind = "out-of-order"


class UnsafePath(KitVerificationError):
    """An entry path in the stream is absolute, has ``..`` or is not normalised."""

    kind = "unsafe-path"


class NotARegularFile(KitVerificationError):
    """An entry in the stream is a link, device or directory; a kit holds only regular files."""

    kind = "not-a-regular-file"


class BadHeader(KitVerificationError):
    """A tar header is corrupt or not the canonical header of its entry."""

    kind = "bad-header"


class BadPadding(KitVerificationError):
    """Non-zero bytes in the padding after an entry."""

    kind = "bad-padding"


class TamperedManifest(KitVerificationError):
    """The manifest envelope is not canonical JSON (edited after signing)."""

    kind = "tampered-manifest"


class Truncated(KitVerificationError):
    """The file ends early."""

    kind = "truncated"


class Corrupt(KitVerificationError):
    """The compressed stream is damaged."""

    kind = "corrupt"


class TrailingGarbage(KitVerificationError):
    """Bytes follow the end of the kit."""

    kind = "trailing-garbage"


# --- I/O (exit 4) -------------------------------------------------------------------------

class InputChanged(KitIOError):
    """An input file changed while the kit was being built."""

    kind = "input-changed"


class EngineUnavailable(KitIOError):
    """The native Rego engine (regopy) cannot start here, e.g. under an address-space limit (``ulimit -v``)."""

    kind = "engine-unavailable"
