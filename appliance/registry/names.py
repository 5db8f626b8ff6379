"""Repository names in the local registry, from the names images carry in a kit."""

from __future__ import annotations

import re

_COMPONENT = re.compile(r"[^a-z0-9._-]+")
REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"


def _clean(path: str) -> str:
    parts = [_COMPONENT.sub("-", p.lower()).strip(".-_") for p in path.split("/")]
    return "/".join(p for p in parts if p) or "image"


def split_reference(name: str) -> tuple[str, str | None]:
    """``docker.io/library/busybox:1.36`` → (``library/busybox``, ``1.36``); host dropped."""
    ref = name.split("@", 1)[0]
    tag = None
    if ":" in ref.rsplit("/", 1)[-1]:
        ref, tag = ref.rsplit(":", 1)
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return _clean("/".join(parts)), tag


def repository_of(annotations: dict[str, object], kit_name: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, name) for an index.json descriptor's annotations.

    The OCI ``ref.name`` is a full reference when the bundler wrote it, or just a tag
    by the spec's convention; containerd's image name is a full reference. The source
    registry host is dropped (the local registry serves one namespace); with no name
    at all the image goes to ``stella/<kit name>``, pullable by digest.
    """
    ref = annotations.get(REF_NAME)
    full = annotations.get(IMAGE_NAME)
    ref = ref if isinstance(ref, str) and ref else None
    full = full if isinstance(full, str) and full else None
    if ref and ("/" in ref or ":" in ref):
        repo, tag = split_reference(ref)
        return repo, tag, ref
    if full:
        repo, tag = split_reference(full)
        return repo, tag or ref, full
    return f"stella/{_clean(kit_name)}", ref, ref
