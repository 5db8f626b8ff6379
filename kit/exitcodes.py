"""Exit codes shared by every command (``stella``, ``stella-bundler``, ``stella-verify``).

Stable and documented in docs/cli.md; scripts rely on them.
"""

from __future__ import annotations

OK = 0
REFUSED = 1        # a check failed: signature, digest, expiry, policy, freshness
USAGE = 2          # bad command line
MALFORMED = 3      # input is not what it claims to be (not a kit, bad schema, bad YAML)
IO_ERROR = 4       # I/O or internal error
CONFLICT = 5       # already running, older than active
