"""``stella findings RELEASE[@VERSION] [--env ENV]``: findings from the appliance's store.

Components come from the release's CycloneDX SBOMs (content store), advisories from the
SQLite advisory index filled at import, VEX from every OpenVEX document imported. The
release is NAME@VERSION, or NAME: the version deployed in ``--env`` if given, else the
newest imported.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlite_utils

from appliance import releases
from appliance.findings_index import SqliteAdvisoryIndex
from appliance.home import Home
from appliance.promotions.errors import NotDeployed
from appliance.promotions.inputs import vex_input
from kit.findings import Outcome, evaluate
from kit.gates.findings import sbom_components, vex_statements
from kit.gates.inputs import file_entry


def _deployed_version(db: sqlite_utils.Database, name: str, env: str) -> str:
    row = db.execute("SELECT release FROM deployments WHERE environment = ? AND release LIKE ? AND state = 'deployed' "
                     "ORDER BY finished_at DESC, id DESC LIMIT 1", [env, f"{name}@%"]).fetchone()
    if row is None:
        raise NotDeployed(f"no version of {name} is deployed in {env}")
    return str(row[0])


def release_findings(home: Home, db: sqlite_utils.Database, ref: str, env: str | None = None) -> Outcome:
    name, version = releases.parse_ref(ref)
    if version is None and env is not None:
        ref = _deployed_version(db, name, env)
    rel = releases.resolve(db, ref)
    doc = releases.document(home, rel)
    sboms = {"documents": [file_entry(p, releases.text_of(home, sha, p))
                           for p, sha in releases.sbom_entries(db, rel, doc)]}
    components, problems = sbom_components({"sboms": sboms})
    statements, vex_problems = vex_statements({"vex": vex_input(home, db)})
    return evaluate(components, SqliteAdvisoryIndex(db.conn), statements, None, [*problems, *vex_problems])


def ecosystems(home: Home, db: sqlite_utils.Database, rel: releases.Release,
               doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The release's SBOM components counted per ecosystem (purl type)."""
    sboms = {"documents": [file_entry(p, releases.text_of(home, sha, p))
                           for p, sha in releases.sbom_entries(db, rel, doc)]}
    components, _problems = sbom_components({"sboms": sboms})
    counts = Counter(c.purl_type for c in components)
    return [{"ecosystem": k, "components": n} for k, n in sorted(counts.items())]
