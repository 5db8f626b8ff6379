"""Trust roots: who may sign kits on which channel, with what threshold, until when."""

from kit.trust.root import (
    TRUST_ROOT_TYPE,
    Role,
    TrustRoot,
    build_root,
    load_root_envelope,
    verify_chain,
)

__all__ = ["TRUST_ROOT_TYPE", "Role", "TrustRoot", "build_root", "load_root_envelope", "verify_chain"]
