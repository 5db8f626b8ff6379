"""The non-image inputs of a kit: advisories, VEX, policy packs and build provenance.

Each module turns one kind of kit.yaml input into ``EntrySource`` values for the kit
writer, checking it on the connected side so that a bad input fails the build (exit 3,
``SpecError``) instead of failing after the air gap:

- ``advisories``: OSV files, folders, .zip exports and NDJSON → one normalized, merged
  ``advisories/records.ndjson`` plus ``advisories/sources.json`` (docs/advisories.md);
- ``vex``: OpenVEX 0.2.0 documents, schema-checked and parsed, carried byte-exact
  (docs/vex.md);
- ``policy``: a folder of Rego modules and ``data.json``, compiled with regopy
  (docs/policy-packs.md);
- ``provenance``: a DSSE-signed in-toto SLSA provenance statement over every other
  entry (docs/provenance.md).
"""

from bundler.sources.advisories import (
    ADVISORY_RECORDS_TYPE,
    ADVISORY_SOURCES_TYPE,
    AdvisoryInput,
    AdvisoryReport,
    advisory_entries,
    parse_advisory_inputs,
)
from bundler.sources.policy import POLICY_DATA_TYPE, REGO_TYPE, policy_entries
from bundler.sources.provenance import (
    PROVENANCE_PATH,
    PROVENANCE_TYPE,
    BuildInfo,
    file_uri,
    oci_uri,
    provenance_entry,
    verify_provenance,
)
from bundler.sources.vex import OPENVEX_TYPE, vex_entries

__all__ = [
    "ADVISORY_RECORDS_TYPE", "ADVISORY_SOURCES_TYPE", "AdvisoryInput", "AdvisoryReport", "advisory_entries",
    "parse_advisory_inputs", "POLICY_DATA_TYPE", "REGO_TYPE", "policy_entries", "PROVENANCE_PATH",
    "PROVENANCE_TYPE", "BuildInfo", "file_uri", "oci_uri", "provenance_entry", "verify_provenance",
    "OPENVEX_TYPE", "vex_entries",
]
