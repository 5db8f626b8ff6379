"""The text form of a diff (what ``stella-bundler diff`` and ``stella plan`` print without --json)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kit.diff.compare import KitDiff

SHOW = 50        # items of one list printed before "… and N more"


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _capped(lines: Iterable[str]) -> Iterator[str]:
    items = list(lines)
    yield from items[:SHOW]
    if len(items) > SHOW:
        yield f"    … and {len(items) - SHOW} more"


def side(name: str, d: dict[str, Any]) -> str:
    what = f"delta on #{d['base']['sequence']}" if d["base"] else "full kit"
    carried = (f", carries {d['carriedEntries']} ({_size(d['carriedBytes'])}), inherits "
               f"{d['inheritedEntries']} ({_size(d['inheritedBytes'])})" if d["base"] else "")
    label = f" ({d['label']})" if d["label"] else ""
    return (f"{name}{label}: {d['name']}/{d['channel']} #{d['sequence']} {what} {d['kitId'][:19]}…: "
            f"{d['entries']} entries, {_size(d['bytes'])}{carried}, file {_size(d['fileSize'])}, "
            f"expires {d['expires']}")


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest[:19] + "…"


def _releases(r: dict[str, list[Any]]) -> Iterator[str]:
    yield f"releases: {len(r['added'])} added, {len(r['removed'])} removed, {len(r['changed'])} changed"
    yield from _capped(f"  + {a['release']}" for a in r["added"])
    yield from _capped(f"  - {a['release']}" for a in r["removed"])
    for c in r["changed"][:SHOW]:
        yield f"  ~ {c['from']} -> {c['to']}"
        yield from (f"      {x['service']}: {_short(x['old'])} -> {_short(x['new'])}" for x in c["components"])


def _advisories(a: dict[str, list[Any]]) -> Iterator[str]:
    yield (f"advisories: {len(a['added'])} added, {len(a['changed'])} changed, "
           f"{len(a['withdrawn'])} withdrawn")
    yield from _capped(f"  + {i}" for i in a["added"])
    yield from _capped(f"  ~ {c['id']} ({', '.join(c['fields'])})" for c in a["changed"])
    yield from _capped(f"  - {w['id']} ({w['how']})" for w in a["withdrawn"])


def _vex(v: dict[str, list[Any]]) -> Iterator[str]:
    yield f"vex: {len(v['added'])} added, {len(v['removed'])} removed, {len(v['changed'])} changed statements"
    yield from _capped(f"  + {s['vulnerability']} {s['product']}: {s.get('status')}" for s in v["added"])
    yield from _capped(f"  - {s['vulnerability']} {s['product']}: {s.get('status')}" for s in v["removed"])
    yield from _capped(f"  ~ {s['vulnerability']} {s['product']}: {s['from']} -> {s['to']} ({', '.join(s['fields'])})"
                       for s in v["changed"])


def _policy(p: dict[str, list[Any]]) -> Iterator[str]:
    yield f"policy: {len(p['added'])} added, {len(p['removed'])} removed, {len(p['changed'])} changed"
    for item in (*p["added"], *p["removed"], *p["changed"]):
        yield from ("    " + line for line in item["diff"].splitlines())


def lines(d: KitDiff) -> Iterator[str]:
    """Every line of the text report, in a fixed order."""
    yield side("old", d.old)
    yield side("new", d.new)
    yield from _releases(d.releases)
    yield from _advisories(d.advisories)
    yield from _vex(d.vex)
    yield from _policy(d.policy)
    t = d.trust
    expiry = (f"expires {t['expires']['old']} -> {t['expires']['new']}" if t["expires"]["old"] != t["expires"]["new"]
              else f"expires {t['expires']['new']} (unchanged)")
    yield f"trust: {'; '.join([expiry, *t['changed']])}"
    e = d.entries
    yield (f"entries: {len(e['added'])} added, {len(e['removed'])} removed, {len(e['changed'])} changed"
           + (f"; the delta carries {len(e['carried'])}, inherits {len(e['inherited'])}" if d.new["base"] else ""))
    if d.unknown:
        yield (f"unknown: {len(d.unknown)} document(s) inherited from a base that was not given: "
               + ", ".join(d.unknown[:SHOW]))
