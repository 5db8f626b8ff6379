package stella.gate

import rego.v1

# Array comprehensions, not partial sets: regopy's partial sets are quadratic in size.
blocking := [msg |
	some f in input.findings
	f.severity in data.block_severities
	f.fixed_available
	f.vex_status != "not_affected"
	msg := sprintf("%s %s in %s", [f.severity, f.id, f.purl])
]

default allow := false

allow if count(blocking) == 0
