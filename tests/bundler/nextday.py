"""A realistic site and its "next day", for delta-kit size tests and bench/delta.py.

Day 1: N OSV advisory records, a policy pack, an OpenVEX document, and three images in the
test registry that share a base layer (a Debian-like rootfs plus incompressible data, as
compressed layers are) with one application layer each, created the day before (as a
registry's images say in their config, Go's nanoseconds and offset included). Day 2: 1 % of
the advisory records changed (new ``modified`` time and summary), one image rebuilt with
one new top layer (its release gets a new version), and one VEX statement edited.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from bundler.oci.layout import OCILayout
from tests.images import Layer, debian_rootfs, make_image, push

ROOT = Path(__file__).resolve().parents[2]
APPS = 3


@dataclass(frozen=True)
class Scale:
    records: int = 2000             # advisory records
    base_bytes: int = 4 << 20       # incompressible data in the shared base layer
    app_bytes: int = 1 << 20        # and in each application layer
    patch_bytes: int = 64 << 10     # the new top layer of the rebuilt image


def _data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def push_images(registry: str, work: Path, day: int, scale: Scale) -> dict[str, str]:
    """Push the day's images; returns release name -> image reference (by tag)."""
    layout = OCILayout(work / f"layout-{day}")
    base = Layer({**debian_rootfs(), "opt/base/data.bin": _data(1, scale.base_bytes)})
    refs = {}
    for i in range(APPS):
        layers = [base, Layer({f"app/app{i}.bin": _data(100 + i, scale.app_bytes)})]
        tag, created = "day1", "2026-10-31T14:30:00.123456789+02:00"
        if day >= 2 and i == 0:
            layers.append(Layer({"app/patch.bin": _data(200 + day, scale.patch_bytes)}))
            tag, created = f"day{day}", f"2026-11-{day - 1:02d}T18:00:00Z"
        desc, _ = make_image(layout, layers, created=created)
        push(registry, work / f"layout-{day}", desc, f"stella-nextday/app{i}:{tag}")
        refs[f"app{i}"] = f"{registry}/stella-nextday/app{i}:{tag}"
    return refs


def _record(n: int, day: int) -> dict[str, object]:
    changed = day >= 2 and n % 100 == 0
    return {"schema_version": "1.6.0", "id": f"PYSEC-2026-{n:05d}",
            "modified": f"2026-11-{day if changed else 1:02d}T00:00:00Z", "published": "2026-10-01T00:00:00Z",
            "aliases": [f"CVE-2026-{n:05d}"],
            "summary": f"example advisory {n}" + (" (updated: wider range)" if changed else ""),
            "affected": [{"package": {"ecosystem": "PyPI", "name": f"examplepkg{n}",
                                      "purl": f"pkg:pypi/examplepkg{n}"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [
                              {"introduced": "0"}, {"fixed": f"{3 if changed else 2}.{n % 10}.0"}]}]}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}]}


def _vex(day: int) -> dict[str, object]:
    statements = [{"vulnerability": {"name": f"CVE-2026-{n:05d}"}, "products": [{"@id": f"pkg:pypi/examplepkg{n}@1.0"}],
                   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}
                  for n in range(1, 11)]
    if day >= 2:
        statements[0] = {**statements[0], "status": "affected", "action_statement": "upgrade"}
        del statements[0]["justification"]
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://vex.example.invalid/site",
            "author": "Site security team", "timestamp": f"2026-11-{day:02d}T00:00:00Z", "version": day,
            "statements": statements}


def write_site(site: Path, day: int, refs: dict[str, str], registry: str, scale: Scale) -> Path:
    """kit.yaml and its inputs for *day*; returns the kit.yaml path."""
    if not (site / "policy").exists():
        shutil.copytree(ROOT / "examples/site/policy", site / "policy")
    (site / "osv").mkdir(parents=True, exist_ok=True)
    (site / "vex").mkdir(exist_ok=True)
    with open(site / "osv/feed.ndjson", "w") as fh:
        for n in range(1, scale.records + 1):
            fh.write(json.dumps(_record(n, day), sort_keys=True) + "\n")
    (site / "vex/site.openvex.json").write_text(json.dumps(_vex(day), indent=2))
    releases = "".join(f"  - name: {name}\n    version: \"{'2.0' if ref.endswith(':day2') else '1.0'}\"\n"
                       f"    components:\n      app: {ref}\n" for name, ref in sorted(refs.items()))
    spec = site / "kit.yaml"
    spec.write_text(f"""kit:
  name: site
  channel: stable
  sequence: {day}
  created: 2026-11-{day:02d}T00:00:00Z
  expires: 2027-11-01T00:00:00Z
registries:
  "{registry}": {{insecure: true}}
policy: policy
advisories: [osv]
vex: [vex/site.openvex.json]
releases:
{releases}""")
    return spec
