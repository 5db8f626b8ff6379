"""``stella-bundler inspect``: what a kit holds (signatures listed, not verified)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from clisupport import emit_json, fail, handle_errors, human_size
from kit import canonical
from kit.errors import InputTooLarge, MalformedPayload
from kit.format import Entry, KitReader, Manifest, ReadResult, inspect_kit
from kit.timeutil import format_time

MAX_DOC = 64 << 20
MAX_DOCS = 256 << 20     # all the documents one inspect keeps (each is held until it is shown)


class _Capture:
    """A sink that keeps the small JSON documents inspect shows (releases, CycloneDX SBOMs)."""

    def __init__(self, prefixes: tuple[str, ...]):
        self.prefixes = prefixes
        self.docs: dict[str, bytes] = {}
        self.kept = 0

    def open(self, entry: Entry) -> Any:
        if not entry.path.startswith(self.prefixes) or entry.size > MAX_DOC:
            return None
        if entry.path.startswith("sboms/") and not entry.path.endswith(".cdx.json"):
            return None
        self.kept += entry.size
        if self.kept > MAX_DOCS:
            raise InputTooLarge(f"the kit's release documents and SBOMs come to more than {MAX_DOCS} bytes, "
                                "the most inspect shows; inspect without --releases/--sboms", entry=entry.path)
        parts: list[bytes] = []
        docs = self.docs

        class Writer:
            def write(self, chunk: memoryview) -> None:
                parts.append(bytes(chunk))

            def close(self, verified: bool) -> None:
                if verified:
                    docs[entry.path] = b"".join(parts)
        return Writer()


def _read(kit_path: Path, releases: bool, sboms: bool) -> tuple[ReadResult, dict[str, Any]]:
    """The manifest alone, or (with --releases/--sboms) one streaming pass that also keeps
    those documents; signatures are not checked."""
    if not (releases or sboms):
        return inspect_kit(kit_path), {}
    prefixes = tuple(p for p, on in (("releases/", releases), ("sboms/", sboms)) if on)
    capture = _Capture(prefixes)
    result = KitReader(kit_path).verify(trust=None, at=dt.datetime.min.replace(tzinfo=dt.UTC), sink=capture)
    docs = {path: _parse(path, data) for path, data in sorted(capture.docs.items()) if path.endswith(".json")}
    return result, docs


def _parse(path: str, data: bytes) -> Any:
    try:
        return canonical.loads(data, allow_floats=True)
    except canonical.CanonicalJSONError as exc:
        raise MalformedPayload(f"{path}: {exc}", entry=path) from None


def _release_lines(docs: dict[str, Any]) -> list[str]:
    lines = []
    for path, doc in docs.items():
        if not path.startswith("releases/") or not isinstance(doc, dict) or doc.get("_type") != "stella/release":
            continue
        compose = " (compose template)" if doc.get("compose") else ""
        lines.append(f"release    {doc['name']}@{doc['version']}{compose}")
        for c in doc["components"]:
            tag = f"  (tag {c['tag']})" if c.get("tag") else ""
            lines.append(f"  {c['service']:<14} {c['image']}@{c['digest']}{tag}")
    return lines


def _sbom_lines(docs: dict[str, Any]) -> list[str]:
    lines = []
    for path, doc in docs.items():
        if not path.startswith("sboms/"):
            continue
        meta = doc.get("metadata", {}).get("component", {})
        comps = doc.get("components", [])
        kinds: dict[str, int] = {}
        for c in comps:
            kind = str(c.get("purl", "pkg:?/")).split("/")[0].removeprefix("pkg:")
            kinds[kind] = kinds.get(kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no components"
        lines.append(f"sbom       {path}  {meta.get('name', '?')}: {len(comps)} components ({summary})")
    return lines


def _print(m: Manifest, sigs: list[str], kit_path: Path) -> None:
    click.echo(f"kit        {m.kit_id}  (signatures not verified; use stella-verify kit)")
    click.echo(f"name       {m.name}   channel {m.channel}   sequence {m.sequence}   kind {m.kind}")
    click.echo(f"created    {format_time(m.created)}   expires {format_time(m.expires)}")
    click.echo(f"generator  {m.generator['name']} {m.generator['version']}")
    click.echo(f"content    {len(m.entries)} entries, {human_size(m.total_size)} "
               f"(file {human_size(kit_path.stat().st_size)})")
    for keyid in sigs:
        click.echo(f"signature  {keyid}")


@click.command()
@click.argument("kit_path", metavar="KIT", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--releases", is_flag=True, help="Also show each release's components pinned by digest.")
@click.option("--sboms", is_flag=True, help="Also summarise each SBOM (components per ecosystem).")
@click.option("--entries/--no-entries", default=True, help="List every entry.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary and index as JSON.")
def inspect(kit_path: Path, releases: bool, sboms: bool, entries: bool, as_json: bool) -> None:
    """Show what KIT holds: identity, freshness, entries with sizes and digests, signatures.

    Without --releases/--sboms only the manifest is read; with them the kit is streamed
    once (digests checked) to read those documents. Signatures are listed, not verified:
    use `stella-verify kit` to verify.
    """
    with handle_errors("stella-bundler"):
        result, docs = _read(kit_path, releases, sboms)
        if result.error is not None:
            fail(result.error, "stella-bundler")
        m, env = result.manifest, result.envelope
        assert m is not None and env is not None
        sigs = sorted(s.keyid for s in env.signatures)
        if as_json:
            doc: dict[str, Any] = {"kit": str(kit_path), "kitId": m.kit_id, "verified": False,
                                   "manifest": m.to_dict(), "signatures": sigs, "fileSize": kit_path.stat().st_size}
            if releases:
                doc["releases"] = [d for p, d in docs.items() if p.startswith("releases/")]
            if sboms:
                doc["sboms"] = {p: {"components": len(d.get("components", []))} for p, d in docs.items()
                                if p.startswith("sboms/")}
            emit_json(doc)
            return
        _print(m, sigs, kit_path)
        for line in _release_lines(docs) + _sbom_lines(docs):
            click.echo(line)
        if entries:
            width = max((len(e.path) for e in m.entries), default=10)
            for e in m.entries:
                click.echo(f"  {e.path:<{width}}  {human_size(e.size):>10}  {e.sha256[:16]}  {e.media_type}")
