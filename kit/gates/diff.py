"""What differs between a stored decision record and a replayed one (for replay reports).

Inputs first (a tampered or swapped input explains everything after it), then the
verdict, then each gate's verdict, reason and trace.
"""

from __future__ import annotations

from typing import Any


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _trace_diff(gate: str, a: Any, b: Any, path: str = "trace") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _trace_diff(gate, a.get(key), b.get(key), f"{path}.{key}")
        return out
    if a != b:
        return [f"gate {gate}: {path} was {_short(a)}, replay gives {_short(b)}"]
    return []


def differences(stored: dict[str, Any], replayed: dict[str, Any], carried: dict[str, str]) -> list[str]:
    """Human lines naming each difference; empty when the records are equal.

    *carried* maps input name → digest of the document the packet actually holds.
    """
    lines = []
    named = stored.get("inputs") or {}
    for name in sorted(set(named) | set(carried)):
        if named.get(name) != carried.get(name):
            lines.append(f"input {name}: the decision record names {named.get(name)}, "
                         f"the packet carries {carried.get(name)} (changed input)")
    for key in ("subject", "evaluatedAt", "verdict", "blocking", "_type", "formatVersion"):
        if stored.get(key) != replayed.get(key):
            lines.append(f"{key}: recorded {_short(stored.get(key))}, replay gives {_short(replayed.get(key))}")
    old = {g["name"]: g for g in stored.get("gates") or [] if isinstance(g, dict) and "name" in g}
    new = {g["name"]: g for g in replayed.get("gates") or []}
    for name in sorted(set(old) | set(new), key=lambda n: list(new).index(n) if n in new else 99):
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            lines.append(f"gate {name}: {'missing from the record' if a is None else 'not produced by replay'}")
            continue
        if a.get("verdict") != b.get("verdict"):
            lines.append(f"gate {name}: verdict {a.get('verdict')} recorded, replay gives {b.get('verdict')} "
                         f"({b.get('reason')})")
        elif a.get("reason") != b.get("reason"):
            lines.append(f"gate {name}: reason recorded {_short(a.get('reason'))}, "
                         f"replay gives {_short(b.get('reason'))}")
        lines += _trace_diff(name, a.get("trace"), b.get("trace"))
    if not lines and stored != replayed:
        lines.append("the records differ in a field outside the gates (compare the canonical JSON)")
    return lines
