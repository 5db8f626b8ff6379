"""``compose.stella.lock.yml``: a release's compose template with every image pinned by digest.

Rendering is a pure function of (template, pinned images, identities), so the same
inputs give the same bytes, and the appliance, drift checks and auditors agree on what
was deployed. The file's self-digest rule (docs/deploy.md):

    x-stella.lockDigest = sha256 of the canonical JSON of the parsed lock file
                          with the top-level ``x-stella`` key removed

so comments and YAML formatting never change it, and any change to a service does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kit import canonical
from kit.errors import KitFormatError

# libyaml's parser when PyYAML has it (10x faster; the same SafeConstructor builds the
# data, so the parsed document, and so the self-digest, are the same either way). Dumping
# stays pure Python: its bytes must not depend on whether libyaml is installed.
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

LOCK_NAME = "compose.stella.lock.yml"
LABELS = ("stella.release.id", "stella.component.id", "stella.digest", "stella.environment",
          "stella.deployment.id")


class LockError(KitFormatError):
    """A Compose template or lock file cannot be read or rendered."""

    kind = "bad-compose-template"


class LockChanged(LockError):
    """A lock file was changed after it was rendered (edited by hand?)."""

    kind = "lock-changed"


class ImageNotInRelease(LockError):
    """A Compose service names an image, or is a component, the release does not carry."""

    kind = "image-not-in-release"


class ImageNotImported(LockError):
    """An image of the release is not in the appliance registry (its kit was not imported)."""

    kind = "image-not-imported"


@dataclass(frozen=True)
class PinnedImage:
    """What a service runs: ``registry/repo@sha256:…``, and the tag it came from (a comment)."""

    reference: str
    digest: str
    tag: str | None = None


@dataclass(frozen=True)
class LockIdentity:
    release: str          # NAME@VERSION
    environment: str
    deployment: str
    target: str
    project: str


def _labels(value: Any, service: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        out = {}
        for item in value:
            key, _, val = str(item).partition("=")
            out[key] = val
        return out
    raise LockError(f"service {service}: labels must be a mapping or a list")


def parse_template(text: bytes | str, where: str = "compose template") -> dict[str, Any]:
    """The template as data, checked to have a services mapping.

    Raises:
        LockError: not YAML, or no services.
    """
    try:
        doc = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader (C or Python)
    except yaml.YAMLError as exc:
        raise LockError(f"{where} is not valid YAML: {exc}") from None
    except RecursionError:
        raise LockError(f"{where} is not valid YAML: nested too deeply") from None
    except ValueError as exc:       # an integer past Python's digit limit
        raise LockError(f"{where} is not valid YAML: {str(exc)[:80]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict) or not doc["services"]:
        raise LockError(f"{where} has no services mapping")
    return doc


def _plain(value: Any) -> Any:
    """YAML data as canonical-JSON-able data: floats and dates become their text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def lock_digest(doc: Mapping[str, Any]) -> str:
    """The self-digest: sha256 of canonical JSON of *doc* without its ``x-stella`` key
    (floats and YAML dates written as text)."""
    body = {k: v for k, v in doc.items() if k != "x-stella"}
    return "sha256:" + hashlib.sha256(canonical.dumps(_plain(body))).hexdigest()


STACK_VERSION = "3.8"     # the stack file format the docker CLI before 25 needs named (3.8: max_replicas_per_node)


def render_lock(template: bytes | str, images: Mapping[str, PinnedImage], who: LockIdentity,
                stack: bool = False) -> bytes:
    """Render the lock file for one (release, environment, target).

    Every template service must have a pinned image (a compose service is a release
    component of the same name); ``image:`` is replaced by the digest reference, the
    stella labels are set, and an ``x-stella`` block names release, environment,
    deployment, target and the self-digest. ``${VAR}`` references are kept as written:
    values come from the target's env file at deploy time, never from the lock file.

    *stack* True renders a Swarm stack file: no top-level ``name`` (stack files refuse it;
    the stack's name is given to ``docker stack deploy``) and ``version: "3.8"`` (the docker
    CLI before 25 refuses a stack file without a version).

    Raises:
        LockError: a service with no image in the release, or a malformed template.
    """
    doc = parse_template(template)
    services: dict[str, Any] = {}
    for name, body in sorted(doc["services"].items()):
        if not isinstance(body, dict):
            raise LockError(f"service {name}: must be a mapping")
        pinned = images.get(name)
        if pinned is None:
            raise LockError(f"compose service {name!r} references an image that is not in release {who.release} "
                            f"(components: {', '.join(sorted(images)) or 'none'})")
        labels = _labels(body.get("labels"), name)
        labels.update({"stella.release.id": who.release, "stella.component.id": f"{who.release}/{name}",
                       "stella.digest": pinned.digest, "stella.environment": who.environment,
                       "stella.deployment.id": who.deployment})
        services[name] = {**body, "image": pinned.reference, "labels": dict(sorted(labels.items()))}
    out = {k: v for k, v in doc.items() if k not in ("services", "x-stella", "version")}
    out.update({"version": STACK_VERSION, "services": services} if stack else {"name": who.project,
                                                                              "services": services})
    out["x-stella"] = {"release": who.release, "environment": who.environment, "deployment": who.deployment,
                       "target": who.target, "lockDigest": lock_digest(out)}
    return _dump(out, images)


def _dump(doc: dict[str, Any], images: Mapping[str, PinnedImage]) -> bytes:
    text = yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16)
    lines = []
    for line in text.splitlines():
        if line.startswith("    image: "):               # a service's image (services are at depth 1)
            ref = line.strip()[len("image: "):]
            tag = next((p.tag for p in images.values() if p.reference == ref and p.tag), None)
            if tag:
                line += f"  # tag {tag}"
        lines.append(line)
    header = "# compose.stella.lock.yml: rendered by the Stella appliance; do not edit (drift is detected).\n"
    return (header + "\n".join(lines) + "\n").encode("utf-8")


def check_lock(data: bytes) -> dict[str, Any]:
    """Parse a lock file and check its self-digest.

    Raises:
        LockError: not a lock file, or its content no longer matches ``x-stella.lockDigest``.
    """
    doc = parse_template(data, LOCK_NAME)
    meta = doc.get("x-stella")
    if not isinstance(meta, dict) or not isinstance(meta.get("lockDigest"), str):
        raise LockError(f"{LOCK_NAME} has no x-stella.lockDigest")
    actual = lock_digest(doc)
    if actual != meta["lockDigest"]:
        raise LockChanged(f"{LOCK_NAME} was changed after it was rendered (digest {actual[:19]}…, "
                          f"recorded {meta['lockDigest'][:19]}…)")
    return doc
