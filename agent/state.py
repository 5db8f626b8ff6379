"""The agent's state directory (mode 0700), written once by a registration and never overwritten:

    key.pem            the agent's private key (EC P-256, PKCS#8, mode 0600): it never leaves the host
    cert.pem           its client certificate, signed by the appliance's agent CA
    ca.pem             the agent CA (pinned: every later call trusts this CA only)
    registration.json  name, appliance URL, appliance id, capabilities, when (written last)
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.agentproto import AlreadyRegistered
from kit.agentproto.errors import NotRegistered
from kit.errors import KitFormatError

FILES = ("key.pem", "cert.pem", "ca.pem", "registration.json")
MAX_FILE = 64 * 1024


@dataclass(frozen=True)
class Registration:
    name: str
    appliance: str
    appliance_id: str
    capabilities: tuple[str, ...]
    registered_at: str
    certificate_expires: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "appliance": self.appliance, "applianceId": self.appliance_id,
                "capabilities": list(self.capabilities), "registeredAt": self.registered_at,
                "certificateExpires": self.certificate_expires}


def prepare(state: Path) -> None:
    """Make *state* (0700) ready for a first registration.

    Raises:
        AlreadyRegistered: it already holds a registration's file.
    """
    for name in FILES:
        if (state / name).exists() or (state / name).is_symlink():
            raise AlreadyRegistered(f"{state} already holds a registration ({name}); it is never overwritten "
                                    "(revoke the agent and use a new state directory)", entry=str(state / name))
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state, 0o700)


def write(state: Path, key_pem: bytes, cert_pem: bytes, ca_pem: bytes, registration: Registration) -> None:
    """Write the registration's files; ``registration.json`` last, so it marks a whole one."""
    for name, data, mode in (("key.pem", key_pem, 0o600), ("cert.pem", cert_pem, 0o644), ("ca.pem", ca_pem, 0o644),
                             ("registration.json",
                              json.dumps(registration.to_dict(), indent=2, sort_keys=True).encode() + b"\n", 0o644)):
        fd = os.open(state / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
    dfd = os.open(state, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_file(state: Path, name: str) -> bytes:
    """One of the state's files, bounded; a link or special file is refused."""
    path = state / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise NotRegistered(f"{state} holds no registration (run stella-agent register)", entry=str(path)) from None
    except OSError as exc:
        raise KitFormatError(f"cannot open {name}: {exc.strerror}", entry=str(path)) from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise KitFormatError(f"{name} is not a regular file", entry=str(path))
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise KitFormatError(f"{name} is over {MAX_FILE} bytes", entry=str(path))
    return data


def load(state: Path) -> Registration:
    """The registration in *state*.

    Raises:
        NotRegistered: there is none.
        KitFormatError: registration.json is damaged.
    """
    raw = read_file(state, "registration.json")
    try:
        doc = json.loads(raw)
        return Registration(str(doc["name"]), str(doc["appliance"]), str(doc["applianceId"]),
                            tuple(str(c) for c in doc["capabilities"]), str(doc["registeredAt"]),
                            str(doc["certificateExpires"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise KitFormatError(f"registration.json is damaged ({str(exc)[:80]})",
                             entry=str(state / "registration.json")) from None
