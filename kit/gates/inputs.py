"""The inputs of a decision: named canonical JSON documents (docs/gates.md "Inputs").

Every input is a JSON document whose sha256 (over its canonical bytes) goes into the
decision record. Files (release manifest, SBOMs, VEX, policy modules) are carried as
their exact text with their sha256, so an input's file digest equals the kit entry's.
:func:`check_inputs` validates the shape before any gate runs: a malformed input is a
``KitFormatError``, never a silently skipped gate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from kit import canonical
from kit.errors import BadGateInput, GateInputDigestMismatch

NAMES = ("promotion", "release", "sboms", "advisories", "vex", "policy", "environment",
         "approvals", "previous", "time")
_SHAPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "promotion": {"id": str, "release": dict, "environment": str, "requester": str},
    "release": {"path": str, "sha256": str, "content": str},
    "sboms": {"documents": list},
    "advisories": {"records": list, "sources": list},
    "vex": {"documents": list},
    "policy": {"name": str, "files": list},
    "environment": {"name": str, "order": int, "requiredApprovals": int, "freezeWindows": list},
    "approvals": {"approvals": list},
    "previous": {"environment": (str, type(None))},
    "time": {"evaluatedAt": str},
}
# Fields a gate reads when present: of this type or null, else the packet is malformed
# (a replayed packet is hostile input: a wrong type is bad-input, never a crash).
_OPTIONAL: dict[str, dict[str, tuple[type, ...]]] = {
    "environment": {"soakSeconds": (int,), "stalenessBudgetHours": (int,), "separationOfDuties": (bool, int),
                    "approverRole": (str,), "stopTheLine": (dict,), "policyTimeoutSeconds": (int, float)},
}


def _check_file(item: Any, where: str) -> None:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("path", "sha256", "content")):
        raise BadGateInput(f"{where}: needs path, sha256 and content strings", entry=where)
    actual = hashlib.sha256(item["content"].encode("utf-8")).hexdigest()
    if actual != item["sha256"]:
        raise GateInputDigestMismatch(f"{where}: content does not match its sha256 {item['sha256'][:16]}…",
                                      entry=where)


def check_inputs(inputs: Mapping[str, Any]) -> None:
    """Raise KitFormatError unless every input is present and has its documented shape."""
    missing = [n for n in NAMES if n not in inputs]
    if missing:
        raise BadGateInput(f"decision inputs lack {', '.join(missing)}", entry=missing[0])
    for name, shape in _SHAPES.items():
        doc = inputs[name]
        if not isinstance(doc, dict):
            raise BadGateInput(f"input {name} must be a JSON object", entry=name)
        for field, kind in shape.items():
            if not isinstance(doc.get(field), kind):
                raise BadGateInput(f"input {name}: field {field!r} is missing or has the wrong type", entry=name)
    for name, optional in _OPTIONAL.items():
        for field, kinds in optional.items():
            value = inputs[name].get(field)
            if value is not None and not isinstance(value, kinds):
                raise BadGateInput(f"input {name}: field {field!r} has the wrong type ({type(value).__name__})",
                                   entry=name)
    _check_file(inputs["release"], "release")
    for key in ("sboms", "vex"):
        for i, item in enumerate(inputs[key]["documents"]):
            _check_file(item, f"{key}.documents[{i}]")
    for i, item in enumerate(inputs["policy"]["files"]):
        _check_file(item, f"policy.files[{i}]")


def digests(inputs: Mapping[str, Any]) -> dict[str, str]:
    """``sha256:<hex>`` of each input's canonical JSON, by name."""
    return {name: canonical.digest(inputs[name]) for name in NAMES}


def file_entry(path: str, content: str) -> dict[str, str]:
    """A file as an input carries it: path, exact text, sha256 of the UTF-8 bytes."""
    return {"path": path, "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(), "content": content}
