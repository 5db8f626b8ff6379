"""Run a Rego policy with regopy in a child process, under a time limit that fails closed.

regopy (rego-cpp) evaluates in native code that cannot be interrupted from Python, and a
policy with a partial-set rule over thousands of findings can run for minutes
(docs/gates.md, "The O(n²) trap"). So the evaluation runs in a forked child: the parent
waits up to the limit, then kills it. Whatever goes wrong — syntax error, runtime error,
an undefined or ill-typed result, a crash, a timeout — comes back as a ``RegoOutcome``
with ``ok=False`` and a reason, which the policy gate turns into FAIL: an error is never
read as "pass". The child also keeps regopy's parse messages (printed on the process's
stdout) off our output. Fork costs a few milliseconds (bench/gates.py).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import time
from dataclasses import dataclass
from typing import Any

QUERY = "x := data.stella.gate.deny"
_ERRORMSG = re.compile(r"errormsg \d+:([^)\n]*)")
_LOC = re.compile(r"error \d+:([^|\s]+)\|(\d+)")


@dataclass(frozen=True)
class Module:
    path: str
    text: str


@dataclass(frozen=True)
class RegoOutcome:
    ok: bool
    deny: tuple[str, ...] = ()
    error: str = ""               # why the evaluation failed (ok=False)
    kind: str = ""                # syntax | runtime | undefined | bad-result | timeout | crash


def _rego_error_text(exc: Exception) -> str:
    text = str(exc)
    messages = [m.strip() for m in _ERRORMSG.findall(text)]
    where = _LOC.search(text)
    place = f"{where.group(1)}: " if where else ""
    return place + ("; ".join(dict.fromkeys(messages)) if messages else text.strip().splitlines()[0][:200])


def evaluate_direct(modules: list[Module], data_json: str | None, input_json: str) -> dict[str, Any]:
    """Evaluate in this process (the child's body, also used by the benchmark)."""
    import regopy

    rego = regopy.Interpreter()
    try:
        if data_json is not None:
            rego.add_data_json(data_json)
        for module in modules:
            rego.add_module(module.path, module.text)
        rego.set_input_term(input_json)
    except Exception as exc:          # regopy raises RegoError (and others) on bad modules
        return {"ok": False, "kind": "syntax", "error": _rego_error_text(exc)}
    try:
        out = rego.query(QUERY)
    except Exception as exc:          # e.g. regopy emitting output it cannot parse back
        return {"ok": False, "kind": "runtime", "error": f"evaluation error: {type(exc).__name__}: {exc}"}
    if not out.ok():
        return {"ok": False, "kind": "runtime", "error": f"evaluation error: {str(out)[:300]}"}
    if str(out).strip() == "undefined":
        return {"ok": False, "kind": "undefined", "error": "data.stella.gate.deny is undefined "
                "(the policy must define deny as an array of strings)"}
    deny = out[0]["x"]
    if not isinstance(deny, list) or not all(isinstance(m, str) for m in deny):
        return {"ok": False, "kind": "bad-result", "error": "data.stella.gate.deny must be an array of strings, "
                f"got {type(deny).__name__}"}
    return {"ok": True, "deny": deny}


def _child(write_fd: int, modules: list[Module], data_json: str | None, input_json: str) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        result = evaluate_direct(modules, data_json, input_json)
    except BaseException as exc:      # anything at all: report it, never a silent pass
        result = {"ok": False, "kind": "crash", "error": f"{type(exc).__name__}: {exc}"}
    payload = json.dumps(result).encode("utf-8")
    view = memoryview(payload)
    while view:
        view = view[os.write(write_fd, view):]
    os._exit(0)


def _read_until(fd: int, deadline: float) -> bytes | None:
    """Everything the child writes, or None when the deadline passes first."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def evaluate(modules: list[Module], data_json: str | None, input_json: str, limit_seconds: float) -> RegoOutcome:
    """Evaluate ``data.stella.gate.deny`` with a hard time limit (fails closed)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:                      # pragma: no cover - runs in the child
        os.close(read_fd)
        _child(write_fd, modules, data_json, input_json)
    os.close(write_fd)
    try:
        raw = _read_until(read_fd, time.monotonic() + limit_seconds)
    finally:
        os.close(read_fd)
    if raw is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return RegoOutcome(False, error=f"policy evaluation exceeded the time limit of {limit_seconds:g} s "
                                        "(fails closed; see docs/gates.md on partial-set rules)", kind="timeout")
    _, status = os.waitpid(pid, 0)
    try:
        result = json.loads(raw)
    except ValueError:
        return RegoOutcome(False, error=f"policy engine crashed (wait status {status})", kind="crash")
    if not result.get("ok"):
        return RegoOutcome(False, error=str(result.get("error")), kind=str(result.get("kind")))
    return RegoOutcome(True, deny=tuple(result["deny"]))
