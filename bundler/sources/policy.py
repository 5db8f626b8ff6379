"""A policy pack folder → ``policy/…`` entries, compiled with regopy before the air gap.

A pack is ``*.rego`` modules (any depth) and an optional top-level ``data.json`` (a JSON
object). At build time every module is parsed by regopy, the same engine the appliance
embeds, then all modules and the data are loaded into one interpreter and ``data`` is
evaluated once, so syntax errors, conflicting rules and calls to missing functions fail
the build here instead of failing a gate after the crossing. v0 partial rules
(``deny[msg] {``) are refused: regopy accepts them but yields an object instead of a set
(research/stack.md §2). Partial-set rules (``contains``) are reported through *warn*:
their cost grows with the square of the result (docs/policy-packs.md). Files are
carried byte-exact.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bundler import tree
from bundler.errors import SpecError
from kit import canonical
from kit.format import EntrySource
from kit.gates.engine import load_regopy
from kit.inputfile import read_file

if TYPE_CHECKING:
    import regopy  # loaded only when a pack is compiled (kit/gates/engine.py)

REGO_TYPE = "application/vnd.stella.rego"
POLICY_DATA_TYPE = "application/json"
POLICY_DATA = "data.json"
# A v0 partial rule head at the start of a line: ``name[key] {`` or ``name[key] if``.
_V0_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\[[^\]]*\]\s*(\{|if\b)")
_CONTAINS = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s+contains\b")
_ERRORMSG = re.compile(r"errormsg \d+:([^)\n]*)")

Warn = Callable[[str], None]


def _walk(folder: Path) -> list[Path]:
    """Regular files under *folder* (links only inside it; FIFOs, devices refused by name), sorted."""
    return [tree.regular_file(f, folder, "policy") for f in tree.walk(folder, "policy")]


def _text(file: Path, rel: str) -> str:
    try:
        return read_file(file, "policy file").decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"policy: {rel}: not UTF-8 text", entry=rel) from None


def _data(file: Path, rel: str) -> str:
    """data.json's text, after checking it is one JSON object without duplicate keys."""
    text = _text(file, rel)
    try:
        value: Any = canonical.loads(text, allow_floats=True)
    except canonical.CanonicalJSONError as exc:
        raise SpecError(f"policy: {rel}: {exc}", entry=rel) from None
    if not isinstance(value, dict):
        raise SpecError(f"policy: {rel}: must be a JSON object (it is merged under data)", entry=rel)
    return text


def _lint(rel: str, text: str, warn: Warn | None) -> None:
    """Refuse v0 partial rules; report partial-set rules."""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _V0_HEAD.match(line)
        if match:
            raise SpecError(f"policy: {rel}:{number}: v0 rule head {line.strip()!r}: regopy evaluates it "
                            f"to an object, not a set; write '{match.group(1)} contains ... if' or an "
                            "array comprehension (docs/policy-packs.md)", entry=rel)
        match = _CONTAINS.match(line)
        if match and warn is not None:
            warn(f"policy: {rel}:{number}: partial-set rule {match.group(1)!r} ('contains') costs O(n²) "
                 "in the size of its result; prefer an array comprehension (docs/policy-packs.md)")


@contextlib.contextmanager
def _captured_output() -> Iterator[list[str]]:
    """Capture what the C++ engine prints on fds 1 and 2, so the build's output stays clean.

    regopy prints parse errors on the process's stdout as well as raising; the printed
    text (``-- file.rego:3:10``) is the more readable of the two, so we keep it.
    """
    out: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = (os.dup(1), os.dup(2))
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield out
        finally:
            _flush_c_stdio()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))


def _flush_c_stdio() -> None:
    """Flush the C library's stdout buffer (C++ streams sync with it by default)."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def _rego_message(error: str, printed: str) -> str:
    """One line from regopy's error: ``file.rego:3:10: this is unclosed`` when we can."""
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("-- ") and i > 0:
            return f"{line[3:]}: {lines[i - 1]}"
    found = _ERRORMSG.findall(error)
    return "; ".join(dict.fromkeys(m.strip() for m in found)) if found else error.strip().replace("\n", " ")


def _compile(modules: list[tuple[str, str]], data: str | None) -> None:
    """Load every module and the data into one interpreter, then evaluate ``data`` once."""
    regopy = load_regopy()
    rego = regopy.Interpreter()
    if data is not None:
        rego.add_data_json(data)
    for rel, text in modules:
        with _captured_output() as printed:
            try:
                rego.add_module(rel, text)
                error = None
            except regopy.RegoError as exc:
                error = str(exc)
        if error is not None:
            raise SpecError(f"policy: {rel}: Rego syntax error: {_rego_message(error, printed[0])}", entry=rel)
    _evaluate(rego)


def _evaluate(rego: regopy.Interpreter) -> None:
    with _captured_output() as printed:
        try:
            output = rego.query("x := data")
            text, ok = str(output), output.ok()
        except ValueError:  # regopy's Output cannot parse the engine's error text as JSON
            text, ok = _raw_query_text(rego), False
    if not ok or text.startswith("(error"):
        detail = _rego_message(text, printed[0])
        if detail in ("<error>", ""):
            detail = "the modules and data.json cannot be evaluated together (conflicting rules?)"
        raise SpecError(f"policy: evaluating the pack failed: {detail}", entry="policy")
    _check_contract(rego)


def _check_contract(rego: regopy.Interpreter) -> None:
    """The appliance's policy gate reads ``data.stella.gate.deny``: an array of strings
    (docs/gates.md). A pack without it would fail every promotion after the air gap."""
    with _captured_output():
        try:
            output = rego.query("x := data.stella.gate.deny")
            deny = output[0]["x"] if output.ok() and len(output) else None
        except (ValueError, IndexError, KeyError, TypeError):
            deny = None
    if not isinstance(deny, list):
        raise SpecError("policy: the pack must define data.stella.gate.deny as an array of messages "
                        "(package stella.gate; see docs/gates.md)", entry="policy")


def _raw_query_text(rego: regopy.Interpreter) -> str:
    """The engine's own error text for the query, through regopy's low-level API.

    Only used on the error path, where the high-level ``Output`` raises a JSON error
    instead of giving the message (regopy 1.5.2); any change there degrades to "".
    """
    regopy = load_regopy()
    try:
        from regopy import rego_shared as low  # noqa: PLC0415 - error path only
        impl = low.rego_query(rego._impl, "x := data")  # noqa: SLF001
        try:
            return str(low.rego_output_string(impl))
        finally:
            low.rego_free_output(impl)
    except (ImportError, AttributeError, TypeError, regopy.RegoError):
        return ""


def policy_entries(folder: Path, warn: Warn | None = None) -> list[EntrySource]:
    """Every file of the policy pack as ``policy/RELATIVE/PATH``, after compiling the pack.

    Args:
        folder: the pack folder (kit.yaml ``policy:``).
        warn: called with one line per lint finding that does not stop the build.

    Raises:
        SpecError: a file that is neither ``*.rego`` nor the top-level ``data.json``; a
            module that is not UTF-8, has a syntax error or a v0 rule head; a data.json
            that is not a JSON object; or modules and data that fail to evaluate together.
    """
    if not folder.is_dir():
        raise SpecError(f"policy: {folder} is not a folder", entry=str(folder))
    entries, modules, data = [], [], None
    for file in _walk(folder):
        rel = file.relative_to(folder).as_posix()
        if rel == POLICY_DATA:
            data = _data(file, rel)
            entries.append(EntrySource(f"policy/{rel}", POLICY_DATA_TYPE, data=data.encode("utf-8"), file=file))
        elif file.suffix == ".rego":
            text = _text(file, rel)
            _lint(rel, text, warn)
            modules.append((rel, text))
            entries.append(EntrySource(f"policy/{rel}", REGO_TYPE, data=text.encode("utf-8"), file=file))
        else:
            raise SpecError(f"policy: {rel} is neither a .rego module nor the top-level data.json", entry=rel)
    if not modules:
        raise SpecError(f"policy: {folder} holds no .rego module", entry=str(folder))
    _compile(modules, data)
    return entries
