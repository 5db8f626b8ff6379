"""Render the tables of error kinds in the docs from the error classes.

Every error a command prints is a ``kit.errors.StellaError`` subclass that states its
``kind`` (the printed name), its exit code and, in its docstring, what it means; the
tables in docs/cli.md and docs/kit-format.md are generated from those classes, between
``<!-- BEGIN generated: NAME -->`` and ``<!-- END generated: NAME -->`` markers.

    .venv/bin/python scripts/errordocs.py          # rewrite the tables in the docs
    .venv/bin/python scripts/errordocs.py --check  # exit 1 if a table is stale

It lives here, not in clisupport, because it imports every package (clisupport imports
only kit). tests/clisupport/test_error_kinds.py runs the check.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                     # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from kit.errors import CATEGORIES, StellaError  # noqa: E402 - after the path is set

# Every module that defines an error class (a test checks that no other module does).
ERROR_MODULES = (
    "kit.errors", "kit.crypto.keydir", "kit.deploy.lockfile", "kit.findings.errors", "kit.format.delta",
    "kit.format.zstdio", "kit.agentproto.errors",
    "bundler.errors", "bundler.oci.errors", "bundler.sbom.errors",
    "appliance.errors", "appliance.deploy.compose", "appliance.deploy.errors", "appliance.promotions.errors",
    "appliance.promotions.service", "appliance.runs.errors",
)

# The kinds reading a kit can report, in the order docs/kit-format.md lists them.
KIT_FORMAT_KINDS = (
    "NotAKit", "MalformedEnvelope", "MalformedPayload", "SchemaError", "UnknownVersion", "UnsafeIndexPath",
    "DuplicateIndexEntry", "UnsortedIndex", "BadKey", "NotATrustRoot",
    "WrongPayloadType", "BadSignature", "Unsigned", "UntrustedKey", "ThresholdNotMet", "WrongChannel",
    "Expired", "ExpiredRoot", "RootChainGap",
    "DigestMismatch", "MissingEntry", "EntryNotInIndex", "DuplicateEntry", "OutOfOrder", "UnsafePath",
    "NotARegularFile", "BadHeader", "BadPadding", "TamperedManifest",
    "Truncated", "Corrupt", "TrailingGarbage", "KitLimitError",
)

DOCS = {
    "docs/cli.md": "error kinds",
    "docs/kit-format.md": "kit failure kinds",
}


def error_classes() -> list[type[StellaError]]:
    """Every StellaError subclass of the error modules, in a stable order."""
    for name in ERROR_MODULES:
        importlib.import_module(name)
    found: dict[str, type[StellaError]] = {}
    todo: list[type[StellaError]] = [StellaError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[0] in ("kit", "bundler", "verifier", "appliance"):
                found.setdefault(f"{sub.__module__}.{sub.__qualname__}", sub)
            todo.append(sub)
    return [found[k] for k in sorted(found)]


def kind_classes() -> list[type[StellaError]]:
    """The classes that name a kind of their own (``kind`` in the class body).

    Roots, category mixins and classes that only add a marker base (``zstdio.TruncatedStream``
    is a ``Truncated``) inherit their kind and are not kinds of their own.
    """
    return [c for c in error_classes() if "kind" in vars(c) and c not in CATEGORIES]


def documented() -> list[type[StellaError]]:
    """The kinds to list: a class that repeats its base's kind and exit code is that base's row."""
    out = []
    for cls in kind_classes():
        bases = [b for b in cls.__mro__[1:] if "kind" in vars(b)]
        if any(b.kind == cls.kind and b.exit_code == cls.exit_code for b in bases):
            continue
        out.append(cls)
    return out


def meaning(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def package(cls: type) -> str:
    return cls.__module__.split(".")[0]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def cli_table() -> str:
    rows = sorted(documented(), key=lambda c: (c.exit_code, c.kind, package(c)))
    lines = ["| kind | exit | package | class | meaning |", "|---|---|---|---|---|"]
    for c in rows:
        lines.append(f"| `{c.kind}` | {c.exit_code} | {package(c)} | `{c.__module__}.{c.__qualname__}` "
                     f"| {_cell(meaning(c))} |")
    return "\n".join(lines)


def kit_format_table() -> str:
    import kit.errors
    lines = ["| kind | meaning | `stella-verify` exit |", "|---|---|---|"]
    for name in KIT_FORMAT_KINDS:
        c = getattr(kit.errors, name)
        lines.append(f"| `{c.kind}` | {_cell(meaning(c))} | {c.exit_code} |")
    return "\n".join(lines)


def tables() -> dict[str, str]:
    return {"error kinds": cli_table(), "kit failure kinds": kit_format_table()}


def render(text: str, name: str, table: str) -> str:
    """*text* with the block between the markers of *name* replaced by *table*."""
    begin, end = f"<!-- BEGIN generated: {name} -->", f"<!-- END generated: {name} -->"
    head, sep, rest = text.partition(begin)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise SystemExit(f"errordocs: markers for {name!r} not found")
    return f"{head}{begin}\n{table}\n{end}{tail}"


def stale(root: Path = ROOT) -> Iterator[str]:
    """The docs whose generated tables differ from the code."""
    made = tables()
    for doc, name in DOCS.items():
        path = root / doc
        text = path.read_text(encoding="utf-8")
        if render(text, name, made[name]) != text:
            yield doc


def main(argv: Iterable[str]) -> int:
    args = list(argv)
    if args == ["--check"]:
        old = list(stale())
        for doc in old:
            print(f"{doc}: the error-kind table is stale; run: .venv/bin/python scripts/errordocs.py",
                  file=sys.stderr)
        return 1 if old else 0
    if args:
        print("usage: errordocs.py [--check]", file=sys.stderr)
        return 2
    made = tables()
    for doc, name in DOCS.items():
        path = ROOT / doc
        text = path.read_text(encoding="utf-8")
        new = render(text, name, made[name])
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
