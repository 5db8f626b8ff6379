"""Trust root model, signing and chain verification (TUF-style root rotation).

A trust root is a DSSE envelope (payload type ``application/vnd.stella.trust-root+json``)
over a canonical-JSON payload that lists keys, the ``root`` role (who signs roots) and
one role per channel (who signs kits). Rotation: root version N+1 must be signed by a
threshold of root N's root keys *and* by a threshold of its own root keys, so nobody can
rotate to keys they do not hold, and no single old key can rotate alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import canonical, dsse, schema
from kit.crypto.keys import PublicKey, Signer, public_key_from_dict
from kit.errors import (
    BadKey,
    ExpiredRoot,
    NotATrustRoot,
    RootChainGap,
    SchemaError,
    UnknownVersion,
    WrongChannel,
)
from kit.inputfile import read_file
from kit.timeutil import format_time, parse_time

TRUST_ROOT_TYPE = "application/vnd.stella.trust-root+json"
FORMAT_VERSION = "1.0"
SUPPORTED_MAJOR = 1


@dataclass(frozen=True)
class Role:
    keyids: tuple[str, ...]
    threshold: int

    def to_dict(self) -> dict[str, Any]:
        return {"keyids": sorted(self.keyids), "threshold": self.threshold}


@dataclass(frozen=True)
class TrustRoot:
    version: int
    expires: dt.datetime
    keys: dict[str, PublicKey]
    root: Role
    channels: dict[str, Role]
    envelope: dsse.Envelope

    @property
    def digest(self) -> str:
        """``sha256:`` of the canonical payload: the root's identity."""
        return "sha256:" + canonical.sha256_hex(self.envelope.payload)

    def role_keys(self, role: Role) -> dict[str, PublicKey]:
        return {kid: self.keys[kid] for kid in role.keyids}

    def channel(self, name: str) -> Role:
        """The role that signs kits on *name*.

        Raises:
            KitVerificationError: kind ``wrong-channel`` when the root has no such channel.
        """
        role = self.channels.get(name)
        if role is None:
            known = ", ".join(sorted(self.channels)) or "none"
            raise WrongChannel(f"the trust root has no channel {name!r} (it has: {known})")
        return role

    def check_not_expired(self, at: dt.datetime) -> None:
        if at >= self.expires:
            raise ExpiredRoot(f"trust root version {self.version} expired at {format_time(self.expires)}")

    def summary(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest, "expires": format_time(self.expires),
                "root": self.root.to_dict(), "channels": {k: v.to_dict() for k, v in sorted(self.channels.items())},
                "keys": {kid: key.to_dict() for kid, key in sorted(self.keys.items())}}


def build_root(*, version: int, expires: dt.datetime, keys: Iterable[PublicKey], root_threshold: int,
               channels: dict[str, tuple[Iterable[PublicKey], int]], signers: Sequence[Signer]) -> dsse.Envelope:
    """Make and sign a trust root payload.

    Raises:
        ValueError: a threshold larger than its key set, or a channel key not among *keys*.
    """
    key_map = {k.keyid: k for k in keys}
    role_ids = sorted(key_map)
    if not 1 <= root_threshold <= len(role_ids):
        raise ValueError(f"root threshold {root_threshold} needs between 1 and {len(role_ids)} keys")
    chan: dict[str, Any] = {}
    for name, (ckeys, threshold) in channels.items():
        ids = sorted({k.keyid for k in ckeys})
        if not 1 <= threshold <= len(ids):
            raise ValueError(f"channel {name}: threshold {threshold} needs between 1 and {len(ids)} keys")
        key_map.update({k.keyid: k for k in ckeys})
        chan[name] = {"keyids": ids, "threshold": threshold}
    payload = {"_type": "stella/trust-root", "formatVersion": FORMAT_VERSION, "version": version,
               "expires": format_time(expires), "keys": {kid: k.to_dict() for kid, k in key_map.items()},
               "root": {"keyids": role_ids, "threshold": root_threshold}, "channels": chan}
    parse_payload(payload, "new trust root")
    return dsse.sign(TRUST_ROOT_TYPE, canonical.dumps(payload), signers)


def parse_payload(payload: Any, where: str) -> tuple[int, dt.datetime, dict[str, PublicKey], Role, dict[str, Role]]:
    if isinstance(payload, dict) and isinstance(payload.get("formatVersion"), str):
        major = payload["formatVersion"].split(".")[0]
        if major != str(SUPPORTED_MAJOR):
            raise UnknownVersion(f"{where}: unknown trust root format version {payload['formatVersion']} "
                                 f"(this tool reads {SUPPORTED_MAJOR}.x)")
    schema.validate("trust-root", payload, where)
    keys = {}
    for kid, raw in payload["keys"].items():
        key = public_key_from_dict(raw, f"{where}: key {kid[:12]}")
        if key.keyid != kid:
            raise BadKey(f"{where}: key listed as {kid[:12]} has id {key.keyid[:12]}")
        keys[kid] = key

    def role(raw: dict[str, Any], name: str) -> Role:
        missing = [k for k in raw["keyids"] if k not in keys]
        if missing:
            raise BadKey(f"{where}: role {name} names unknown key {missing[0][:12]}")
        if raw["threshold"] > len(raw["keyids"]):
            raise SchemaError(f"{where}: role {name} threshold {raw['threshold']} exceeds its "
                              f"{len(raw['keyids'])} keys")
        return Role(tuple(raw["keyids"]), raw["threshold"])

    return (payload["version"], parse_time(payload["expires"]), keys, role(payload["root"], "root"),
            {name: role(r, f"channel {name}") for name, r in payload["channels"].items()})


def load_root_envelope(data: bytes, where: str = "trust root") -> TrustRoot:
    """Parse a trust root file (no signature check yet; see :func:`verify_chain`).

    Raises:
        KitFormatError: not a DSSE envelope of a well-formed trust root.
    """
    env = dsse.Envelope.from_bytes(data, where)
    if env.payload_type != TRUST_ROOT_TYPE:
        raise NotATrustRoot(f"{where}: payload type {env.payload_type!r} is not a trust root")
    version, expires, keys, root, channels = parse_payload(env.payload_json(where), where)
    return TrustRoot(version, expires, keys, root, channels, env)


def read_root_file(path: Path) -> TrustRoot:
    return load_root_envelope(read_file(path, "trust root"), str(path))


def verify_chain(roots: Sequence[TrustRoot], at: dt.datetime) -> TrustRoot:
    """Verify a chain of roots and return the newest, which must not be expired at *at*.

    The oldest root is the anchor the operator chose to trust; it must carry its own
    root threshold. Each later root must be exactly one version newer and signed by a
    threshold of the previous root's root keys and of its own.

    Raises:
        KitVerificationError: a gap or duplicate in versions, a missing signature, or expiry.
    """
    if not roots:
        raise ValueError("at least one trust root is needed")
    chain = sorted(roots, key=lambda r: r.version)
    anchor = chain[0]
    dsse.verify(anchor.envelope, anchor.role_keys(anchor.root), anchor.root.threshold, TRUST_ROOT_TYPE,
                f"trust root version {anchor.version}")
    for prev, new in zip(chain, chain[1:]):
        if new.version != prev.version + 1:
            raise RootChainGap(f"trust root chain jumps from version {prev.version} to {new.version}")
        dsse.verify(new.envelope, prev.role_keys(prev.root), prev.root.threshold, TRUST_ROOT_TYPE,
                    f"trust root version {new.version} (by the keys of version {prev.version})")
        dsse.verify(new.envelope, new.role_keys(new.root), new.root.threshold, TRUST_ROOT_TYPE,
                    f"trust root version {new.version} (by its own keys)")
    newest = chain[-1]
    newest.check_not_expired(at)
    return newest
