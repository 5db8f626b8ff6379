"""Pushing an image from an OCI image layout to a registry, byte for byte.

Independent of the pull side on purpose (only a client and a layout directory), so
the appliance can seed its loopback registry the same way. Blobs go first, streamed
from their files (httpx with a file object, not bytes); manifests are PUT as the raw
bytes stored in the layout, so every digest is preserved.
"""

from __future__ import annotations

import json
from pathlib import Path

from bundler.oci import mediatypes as mt
from bundler.oci.client import RegistryClient
from bundler.oci.errors import MissingBlob, NotFoundError, UnsupportedMediaTypeError
from bundler.oci.layout import REF_NAME, OCILayout
from bundler.oci.reference import Reference, parse_reference


def _blob(client: RegistryClient, layout: OCILayout, ref: Reference, digest: str) -> None:
    path = layout.blob_path(digest)
    if not path.is_file():
        raise MissingBlob(f"image {ref}: blob {digest} is missing from layout {layout.root}",
                          entry=digest)
    if client.blob_exists(ref, digest):
        return
    with path.open("rb") as fh:
        client.upload_blob(ref, digest, path.stat().st_size, fh)


def _manifest(client: RegistryClient, layout: OCILayout, ref: Reference, digest: str,
              media_type: str, identifier: str) -> str:
    raw = layout.read_blob(digest)
    doc = json.loads(raw)
    if mt.is_index(media_type):
        for child in doc.get("manifests", []):
            _manifest(client, layout, ref, child["digest"], child["mediaType"], child["digest"])
    elif mt.is_manifest(media_type):
        for desc in [doc["config"], *doc.get("layers", [])]:
            _blob(client, layout, ref, desc["digest"])
    else:
        raise UnsupportedMediaTypeError(f"image {ref}: cannot push media type {media_type!r}",
                                        entry=digest)
    return client.put_manifest(ref, identifier, raw, media_type)


def push_image(client: RegistryClient, layout_dir: Path, digest: str, media_type: str,
               target: str | Reference) -> str:
    """Push the manifest or index *digest* (and everything it names) to *target*.

    *target* is ``host/repo:tag`` (the tag is set) or ``host/repo@digest``. Returns the
    digest the registry stored, always equal to *digest*.

    Raises:
        OCIError: a blob is missing from the layout, or the registry refuses something.
    """
    ref = parse_reference(target) if isinstance(target, str) else target
    layout = OCILayout(layout_dir)
    identifier = ref.digest or ref.tag or digest
    return _manifest(client, layout, ref, digest, media_type, identifier)


def push_ref(client: RegistryClient, layout_dir: Path, ref_name: str,
             target: str | Reference) -> str:
    """Push the ``index.json`` entry whose ref name is *ref_name* to *target*.

    Raises:
        OCIError: no such entry in the layout, or the push fails.
    """
    layout = OCILayout(layout_dir)
    for entry in layout.refs():
        if entry.get("annotations", {}).get(REF_NAME) == ref_name:
            return push_image(client, layout_dir, entry["digest"], entry["mediaType"], target)
    raise NotFoundError(f"layout {layout_dir} has no image named {ref_name!r}", entry=ref_name)
