"""Go module versions: semantic versions with a ``v`` prefix, including pseudo-versions.

Pseudo-versions (``v0.0.0-20191109021931-daa7c04131f5``,
``v1.2.4-0.20191109021931-daa7c04131f5``, ``v1.2.3-pre.0.2019…-abc``) are SemVer
pre-releases by construction, so plain SemVer precedence orders them exactly as the go
command does: after the tagged base they derive from, before the next release, and by
commit time among themselves. ``+incompatible`` is build metadata and ignored.
"""

from __future__ import annotations

from kit.findings.versions import semver


def parse(text: str) -> semver.Key:
    return semver.key(text, "Go")
