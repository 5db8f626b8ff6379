"""Which image each compose service runs: the release component it names, pinned by digest.

A template service matches the release component of the same service name; a service
with another name matches the component whose image it names. An ``image:`` in the
template that names no component of the release is refused (the template would run
something the release, its SBOMs and its gates never covered). Pure: the caller passes
the registry address and the repository each digest was seeded under.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kit.deploy.lockfile import ImageNotImported, ImageNotInRelease, PinnedImage, parse_template


def image_name(reference: str) -> str:
    """``reg.example:5000/Shop/Web:1.4@sha256:…`` → ``shop/web``: no host, tag or digest."""
    ref = reference.split("@", 1)[0]
    last = ref.rsplit("/", 1)
    if ":" in last[-1]:
        ref = ref.rsplit(":", 1)[0]
    parts = ref.lower().split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) == 2 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def _component_for(name: str, body: Any, components: Sequence[Mapping[str, Any]],
                   release: str) -> Mapping[str, Any]:
    by_service = {c.get("service"): c for c in components}
    wanted = body.get("image") if isinstance(body, dict) else None
    if isinstance(wanted, str) and "${" in wanted:
        wanted = None                    # an interpolated image cannot name anything: use the service name
    comp = by_service.get(name)
    if wanted:
        named = [c for c in components if image_name(str(c.get("image") or c.get("reference") or ""))
                 == image_name(wanted)]
        if comp is None and named:
            return named[0]
        if comp is None or not named or comp not in named:
            raise ImageNotInRelease(f"compose service {name!r} references image {wanted!r}, which is not in release "
                                    f"{release} (images: {', '.join(sorted(str(c.get('image')) for c in components))})")
    if comp is None:
        raise ImageNotInRelease(f"compose service {name!r} is not a component of release {release} "
                                f"(components: {', '.join(sorted(str(s) for s in by_service))})")
    return comp


def pin_services(template: bytes | str, components: Sequence[Mapping[str, Any]], release: str, registry: str,
                 repositories: Mapping[str, str]) -> dict[str, PinnedImage]:
    """service → ``REGISTRY/repository@digest`` for every service of the template.

    Raises:
        LockError: a service whose image is not in the release, or whose digest was never
            imported into the appliance registry.
    """
    doc = parse_template(template)
    out = {}
    for name, body in sorted(doc["services"].items()):
        comp = _component_for(str(name), body, components, release)
        digest = str(comp.get("digest"))
        repo = repositories.get(digest)
        if repo is None:
            raise ImageNotImported(f"image {comp.get('image')}@{digest} of release {release} is not in the appliance "
                                   "registry (import the kit that carries it)")
        out[str(name)] = PinnedImage(f"{registry}/{repo}@{digest}", digest, comp.get("tag"))
    return out

