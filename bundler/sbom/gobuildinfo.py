"""The build information Go (1.18 and later) embeds in every binary it links. Pure.

The linker writes a 32-byte header into the binary's data, 16-byte aligned: the magic
``\\xff Go buildinf:``, the pointer size, a flags byte (bit 1: strings are inline), then
two inline strings, each a uvarint length and its bytes: the Go version (``go1.22.3``) and
the module information — text wrapped in two 16-byte sentinels, one fact per line:

    path    example.com/cmd/tool            the main package's import path
    mod     example.com/tool  v1.2.3  h1:…  the main module
    dep     golang.org/x/sys  v0.20.0 h1:…  a dependency …
    =>      golang.org/x/sys  v0.21.0 h1:…  … replaced by the line above it
    build   GOOS=linux                      build settings

(``runtime/debug.ParseBuildInfo`` is the reference for this text; ``go version -m`` prints
it.) Binaries built before Go 1.18 store pointers into the binary instead of inline
strings: they are not read (no ELF parsing here), nor are binaries built without module
support (GOPATH mode, as Debian builds them), which carry only ``path`` and ``build``.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
FLAG_INLINE = 0x2
MAX_STRING = 1024 * 1024              # a module list far beyond any real program's (docker-compose: 13 KiB)
WINDOW = HEADER_SIZE + 2 * (10 + MAX_STRING)   # bytes from the magic on that can hold it all
_SENTINEL = 16


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    sum: str = ""


@dataclass(frozen=True)
class BuildInfo:
    go_version: str                     # "go1.22.3"
    path: str                           # the main package
    main: Module | None                 # None: built outside a module
    deps: tuple[Module, ...]            # replacements applied
    settings: tuple[tuple[str, str], ...]


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated length")


def _string(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _uvarint(data, pos)
    if size > MAX_STRING or pos + size > len(data):
        raise ValueError("string runs past the data")
    return data[pos:pos + size], pos + size


def _strings(blob: bytes) -> tuple[bytes, bytes, int] | None:
    """(Go version, module text, bytes used) of an inline build info at the start of *blob*."""
    if not blob.startswith(MAGIC) or len(blob) < HEADER_SIZE or not blob[15] & FLAG_INLINE:
        return None
    try:
        version, pos = _string(blob, HEADER_SIZE)
        modinfo, end = _string(blob, pos)
    except ValueError:
        return None
    return (version, modinfo, end) if version.startswith(b"go") else None


def size(blob: bytes) -> int | None:
    """How many bytes of *blob* (which starts at the magic) the build info takes, or None
    when it holds none this module reads: what a layer scan keeps of a Go binary."""
    found = _strings(blob)
    return found[2] if found else None


def parse(blob: bytes) -> BuildInfo | None:
    """The build info in *blob* (which starts at the magic), or None when *blob* holds
    none this module reads (pre-1.18 pointer format, truncated, malformed)."""
    found = _strings(blob)
    if found is None:
        return None
    version, modinfo, _ = found
    go_version = version.decode("utf-8", "replace")
    if len(modinfo) >= 2 * _SENTINEL + 1 and modinfo[-_SENTINEL - 1] == 0x0A:
        modinfo = modinfo[_SENTINEL:-_SENTINEL]
    return _modinfo(go_version, modinfo.decode("utf-8", "replace"))


def _module(fields: list[str]) -> Module | None:
    if len(fields) < 2 or not fields[0]:
        return None
    return Module(fields[0], fields[1], fields[2] if len(fields) > 2 else "")


def _modinfo(go_version: str, text: str) -> BuildInfo:
    path, main, deps, settings = "", None, [], []
    for line in text.splitlines():
        word, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if word == "path":
            path = rest
        elif word == "mod":
            main = _module(fields)
        elif word == "dep":
            dep = _module(fields)
            if dep is not None:
                deps.append(dep)
        elif word == "=>" and deps:
            replacement = _module(fields)
            if replacement is not None:
                deps[-1] = replacement
        elif word == "build":
            key, _, value = rest.partition("=")
            settings.append((key, value))
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings))
