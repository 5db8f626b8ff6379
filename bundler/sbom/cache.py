"""A small on-disk cache of catalogs, keyed by image digest and cataloger version.

An image digest fixes every layer byte, so a catalog made by the same cataloger
version can be reused as is; a rebuild then does not re-read unchanged images.
Only the catalog (components) is cached: rendering a document from it is cheap and
depends on the time written (the image's own, else the kit's: ``bundler.contenttime``) and the format.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bundler.sbom.model import CATALOGER_VERSION, Catalog, Component, Distro, ImageSubject


class SBOMCache:
    """``ROOT/<cataloger version>/<digest hex>.json``."""

    def __init__(self, root: Path, version: str = CATALOGER_VERSION) -> None:
        self.dir = Path(root) / version
        self.version = version
        self.hits = 0

    def _path(self, digest: str) -> Path:
        return self.dir / f"{digest.removeprefix('sha256:')}.json"

    def get(self, subject: ImageSubject) -> Catalog | None:
        """The cached catalog for the subject's digest (renamed to *subject*), or None."""
        path = self._path(subject.digest)
        try:
            data = json.loads(path.read_bytes())
            components = tuple(Component.from_dict(c) for c in data["components"])
            distro = Distro(**data["distro"]) if data.get("distro") else None
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged entries are simply rebuilt
        if data.get("digest") != subject.digest:
            return None
        self.hits += 1
        return Catalog(subject, components, distro, self.version)

    def put(self, catalog: Catalog) -> None:
        """Store *catalog* atomically (temp file + rename)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        distro = catalog.distro
        body = {"digest": catalog.subject.digest,
                "distro": {"id": distro.id, "version_id": distro.version_id} if distro else None,
                "components": [c.to_dict() for c in catalog.components]}
        fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=self.dir)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, sort_keys=True, separators=(",", ":"))
        os.replace(tmp, self._path(catalog.subject.digest))

