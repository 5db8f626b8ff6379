"""Releases, VEX statements and policy files of two kit views, compared.

Each function takes the documents of each side as ``{path: bytes}`` (only what could be
read) and returns plain, sorted JSON-ready values, so the result is deterministic.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from typing import Any

Docs = Mapping[str, bytes]
VEX_FIELDS = ("status", "justification", "impact_statement", "action_statement", "status_notes")


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):      # not JSON, a number past the digit limit, too deep
        return None


def releases(docs: Docs) -> dict[str, dict[str, str]]:
    """``NAME@VERSION`` → {service: image digest} for every release document."""
    out: dict[str, dict[str, str]] = {}
    for path, data in docs.items():
        doc = _json(data)
        if not path.endswith(".json") or not isinstance(doc, dict) or doc.get("_type") != "stella/release":
            continue
        listed = doc.get("components")
        comps: list[Any] = listed if isinstance(listed, list) else []
        out[f"{doc.get('name')}@{doc.get('version')}"] = {
            str(c.get("service")): str(c.get("digest")) for c in comps if isinstance(c, dict)}
    return out


def compare_releases(old: Docs, new: Docs) -> dict[str, list[Any]]:
    """Added and removed releases; a name whose version or component digests changed is *changed*."""
    a, b = releases(old), releases(new)
    gone, came = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    changed: list[dict[str, Any]] = []
    for ref in sorted(a.keys() & b.keys()):
        if a[ref] != b[ref]:
            changed.append({"release": ref, "from": ref, "to": ref, "components": _components(a[ref], b[ref])})
    by_name_gone = {r.split("@")[0]: r for r in gone}
    by_name_came = {r.split("@")[0]: r for r in came}
    for name in sorted(by_name_gone.keys() & by_name_came.keys()):
        if sum(r.split("@")[0] == name for r in gone) == 1 == sum(r.split("@")[0] == name for r in came):
            old_ref, new_ref = by_name_gone[name], by_name_came[name]
            changed.append({"release": name, "from": old_ref, "to": new_ref,
                            "components": _components(a[old_ref], b[new_ref])})
            gone.remove(old_ref)
            came.remove(new_ref)
    return {"added": [{"release": r, "components": b[r]} for r in came],
            "removed": [{"release": r, "components": a[r]} for r in gone],
            "changed": sorted(changed, key=lambda c: str(c["release"]))}


def _components(old: dict[str, str], new: dict[str, str]) -> list[dict[str, str | None]]:
    return [{"service": s, "old": old.get(s), "new": new.get(s)}
            for s in sorted(old.keys() | new.keys()) if old.get(s) != new.get(s)]


def _statements(path: str, doc: Any) -> Iterator[tuple[tuple[str, str, str], dict[str, Any]]]:
    """(document, vulnerability, product) → the statement's fields, for OpenVEX and CycloneDX VEX."""
    if not isinstance(doc, dict):
        return
    for st in doc.get("statements") or [] if isinstance(doc.get("statements"), list) else []:
        if not isinstance(st, dict):
            continue
        vuln = st.get("vulnerability")
        name = str(vuln.get("name") or vuln.get("@id")) if isinstance(vuln, dict) else str(vuln)
        for prod in st.get("products") or [] if isinstance(st.get("products"), list) else []:
            pid = prod.get("@id") if isinstance(prod, dict) else prod
            yield (path, name, str(pid)), {f: st[f] for f in VEX_FIELDS if f in st}
    for vuln in doc.get("vulnerabilities") or [] if isinstance(doc.get("vulnerabilities"), list) else []:
        if not isinstance(vuln, dict) or not isinstance(vuln.get("analysis"), dict):
            continue
        analysis = vuln["analysis"]
        fields = {"status": analysis.get("state"), "justification": analysis.get("justification"),
                  "response": analysis.get("response"), "detail": analysis.get("detail")}
        for aff in vuln.get("affects") or [] if isinstance(vuln.get("affects"), list) else []:
            ref = aff.get("ref") if isinstance(aff, dict) else None
            yield (path, str(vuln.get("id")), str(ref)), {k: v for k, v in fields.items() if v is not None}


def vex_statements(docs: Docs) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path, data in docs.items():
        out.update(_statements(path, _json(data)))
    return out


def compare_vex(old: Docs, new: Docs) -> dict[str, list[dict[str, Any]]]:
    """Statements added, removed and changed, keyed by (document, vulnerability, product)."""
    a, b = vex_statements(old), vex_statements(new)

    def row(key: tuple[str, str, str], fields: dict[str, Any]) -> dict[str, Any]:
        return {"document": key[0], "vulnerability": key[1], "product": key[2], **fields}

    changed = [{"document": k[0], "vulnerability": k[1], "product": k[2],
                "fields": sorted(f for f in a[k].keys() | b[k].keys() if a[k].get(f) != b[k].get(f)),
                "from": a[k].get("status"), "to": b[k].get("status")}
               for k in sorted(a.keys() & b.keys()) if a[k] != b[k]]
    return {"added": [row(k, b[k]) for k in sorted(b.keys() - a.keys())],
            "removed": [row(k, a[k]) for k in sorted(a.keys() - b.keys())], "changed": changed}


def unified(path: str, old: bytes | None, new: bytes | None) -> str:
    """A unified diff of two texts (``/dev/null`` for a missing side)."""
    a = old.decode("utf-8", "replace").splitlines(keepends=True) if old is not None else []
    b = new.decode("utf-8", "replace").splitlines(keepends=True) if new is not None else []
    lines = difflib.unified_diff(a, b, fromfile=f"a/{path}" if old is not None else "/dev/null",
                                 tofile=f"b/{path}" if new is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def compare_policy(old: Docs, new: Docs) -> dict[str, list[Any]]:
    """Policy files added, removed and changed, each with a unified diff of its text."""
    changed = [{"path": p, "diff": unified(p, old[p], new[p])} for p in sorted(old.keys() & new.keys())
               if old[p] != new[p]]
    return {"added": [{"path": p, "diff": unified(p, None, new[p])} for p in sorted(new.keys() - old.keys())],
            "removed": [{"path": p, "diff": unified(p, old[p], None)} for p in sorted(old.keys() - new.keys())],
            "changed": changed}
