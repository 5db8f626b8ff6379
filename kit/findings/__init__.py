"""Findings: SBOM components × advisories by each ecosystem's version rules, with VEX.

Pure code (no database, no network): the appliance, the ad-hoc command and the
verifier's replay run the same functions. Entry points:

- ``load_advisories`` / ``load_sboms`` / ``load_vex`` / ``load_tiers``: read inputs,
  collecting per-record problems instead of raising;
- ``MemoryIndex`` (or any ``AdvisoryIndex``): advisories by (ecosystem, name);
- ``evaluate``: match, group by alias, apply VEX consensus → ``Outcome``;
- ``to_json`` / ``to_sarif`` / ``to_text``: deterministic reports.
"""

from __future__ import annotations

from kit.findings.engine import Outcome, evaluate
from kit.findings.index import AdvisoryIndex, MemoryIndex
from kit.findings.loader import load_advisories
from kit.findings.report import to_json, to_sarif, to_text
from kit.findings.sbom import load_sboms
from kit.findings.vex_load import load_tiers, load_vex

__all__ = ["AdvisoryIndex", "MemoryIndex", "Outcome", "evaluate", "load_advisories",
           "load_sboms", "load_tiers", "load_vex", "to_json", "to_sarif", "to_text"]
