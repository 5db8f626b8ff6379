# The example site's policy pack: the appliance's default pack (docs/gates.md), carried
# in the kit so the site can change it without touching the appliance.
#
# Every rule is an ARRAY comprehension: in regopy (rego-cpp 1.5.2) a partial-set rule
# (`deny contains msg if …`) or a set comprehension costs O(n²) in the size of its result
# (46 s at 20,000 findings); an array comprehension is linear (0.6 s).
package stella.gate

import rego.v1

budget_hours := object.get(input.environment, "stalenessBudgetHours", data.default_staleness_hours)

budget_ns := (budget_hours * 3600) * 1000000000

# Critical/high findings with a fix available, unless VEX says not_affected.
vulnerable := [msg |
	some f in input.findings
	f.severity in data.block_severities
	f.fixed_available
	f.vex_status != "not_affected"
	# (no concat() inside sprintf: regopy 1.5.2 emits its result quoted and breaks the output)
	msg := sprintf("%s %s in %s (fixed in %s; VEX %s)", [f.severity, f.id, f.purl, f.fixed[0], f.vex_status])
]

# Advisory sources older than the environment's staleness budget.
stale := [msg |
	some s in input.advisories.sources
	input.time.evaluatedAtNs - s.snapshotNs > budget_ns
	msg := sprintf("advisories from %s are older than the %v h staleness budget (snapshot %s)", [s.source, budget_hours, s.snapshot])
]

no_advisories := [msg |
	count(input.advisories.sources) == 0
	msg := "no advisory snapshot imported: the release cannot be checked for vulnerabilities"
]

# Releases without SBOMs: none at all, or a component image without one.
no_sbom := [msg |
	count(input.sboms) == 0
	msg := sprintf("release %s@%s carries no SBOM", [input.release.name, input.release.version])
]

missing_sbom := [msg |
	some c in input.release.components
	some m in c.manifests
	m.sboms == null
	msg := sprintf("component %s image %s has no SBOM", [c.service, m.digest])
]

deny := array.concat(array.concat(array.concat(vulnerable, stale), no_advisories), array.concat(no_sbom, missing_sbom))
