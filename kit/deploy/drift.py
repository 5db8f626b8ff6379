"""Drift: what runs on a target compared with what the appliance deployed there. Pure.

The expected side is the stored lock file (services, their digests and labels), the
per-service compose config hashes read back right after the deploy, and the sticker read
from the target. The observed side is the project's containers as the engine reports
them. Each difference names the service and one kind:

    image-digest   the container runs another image than the lock file pins
    missing        no container for a service of the lock file
    stopped        the container exists but is not running
    unhealthy      its healthcheck says unhealthy (or is still starting)
    extra          a container in the project that the lock file does not name
    labels         a stella.* label (or any label the lock sets) differs
    lock-changed   the container was recreated from another compose config, or the
                   appliance's working copy of the lock file was edited
    sticker-missing / sticker-invalid / sticker-mismatch
                   no sticker, a sticker whose signature or format fails, or one that
                   names another lock file than the deployed one
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("image-digest", "missing", "stopped", "unhealthy", "extra", "labels", "lock-changed",
         "sticker-missing", "sticker-invalid", "sticker-mismatch")


@dataclass(frozen=True)
class Observed:
    """One container of the project, as the engine reports it."""

    name: str
    service: str
    state: str                              # running | exited | created | …
    health: str | None                      # healthy | unhealthy | starting | None (no healthcheck)
    digests: tuple[str, ...]                # manifest digests of its image (RepoDigests)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    service: str
    kind: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"service": self.service, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class StickerState:
    """``payload`` when the sticker verified; else ``problem`` (missing or invalid: why)."""

    payload: Mapping[str, Any] | None = None
    problem: str | None = None
    missing: bool = False


CONFIG_HASH = "com.docker.compose.config-hash"


def _service_diffs(name: str, spec: Mapping[str, Any], found: Sequence[Observed],
                   config_hash: str | None) -> list[Difference]:
    if not found:
        return [Difference(name, "missing", "no container")]
    out = []
    want = str(spec.get("labels", {}).get("stella.digest", ""))
    for c in found:
        if want and want not in c.digests:
            have = ", ".join(d[:19] + "…" for d in c.digests) or "an image with no registry digest"
            out.append(Difference(name, "image-digest", f"{c.name} runs {have}, the lock pins {want[:19]}…"))
        if c.state != "running":
            out.append(Difference(name, "stopped", f"{c.name} is {c.state}"))
        elif c.health not in (None, "healthy"):
            out.append(Difference(name, "unhealthy", f"{c.name} is {c.health}"))
        changed = sorted(k for k, v in spec.get("labels", {}).items() if c.labels.get(k) != str(v))
        if changed:
            out.append(Difference(name, "labels", f"{c.name}: " + ", ".join(
                f"{k}={c.labels.get(k)!r} (deployed {spec['labels'][k]!r})" for k in changed)))
        if config_hash and c.labels.get(CONFIG_HASH) not in (None, config_hash):
            out.append(Difference(name, "lock-changed", f"{c.name} was created from another compose "
                                  "configuration than the deployed lock file"))
    return out


def _sticker_diffs(sticker: StickerState, lock_sha256: str) -> list[Difference]:
    if sticker.missing:
        return [Difference("-", "sticker-missing", sticker.problem or "no version sticker on the target")]
    if sticker.payload is None:
        return [Difference("-", "sticker-invalid", sticker.problem or "the version sticker does not verify")]
    if sticker.payload.get("lockSha256") != lock_sha256:
        named = str(sticker.payload.get("lockSha256"))[:12]
        return [Difference("-", "sticker-mismatch", f"the sticker names lock file {named}…,"
                           f" the appliance deployed {lock_sha256[:12]}…")]
    return []


def compare(lock: Mapping[str, Any], lock_sha256: str, observed: Sequence[Observed], sticker: StickerState,
            config_hashes: Mapping[str, str] | None = None) -> list[Difference]:
    """Every difference, sorted by service then kind; empty when the target matches."""
    services: Mapping[str, Any] = lock.get("services", {})
    diffs = []
    for name, spec in sorted(services.items()):
        found = [c for c in observed if c.service == name]
        diffs += _service_diffs(name, spec, found, (config_hashes or {}).get(name))
    for c in observed:
        if c.service not in services:
            diffs.append(Difference(c.service or c.name, "extra",
                                    f"{c.name} is in the project but not in the lock file"))
    diffs += _sticker_diffs(sticker, lock_sha256)
    return sorted(diffs, key=lambda d: (d.service, KINDS.index(d.kind), d.detail))
