"""After an import: push the new kit's images to the local registry, best effort
(``stella import`` and the service's import job; docs/registry.md)."""

from __future__ import annotations

from typing import Any

from appliance.home import Home
from appliance.registry import config as registry_config
from appliance.store.blobs import BlobStore
from appliance.store.db import open_db
from kit.errors import StellaError


def autoseed(home: Home, kit_id: str) -> dict[str, Any] | None:
    """Seed *kit_id*'s images when autoseed is on and the kit has images; never fails the
    import: a registry that does not answer gives ``{"error": MESSAGE}``; None: nothing to do."""
    settings = registry_config.load(home)
    if not settings.autoseed:
        return None
    from appliance.registry.seed import seed_all  # httpx: loaded only when seeding

    db = open_db(home.db_path)
    try:
        if not db.execute("SELECT 1 FROM images WHERE kit_id = ?", [kit_id]).fetchone():
            return None
        return seed_all(db, settings.addr, BlobStore(home.blobs), kit_id).to_dict()
    except StellaError as exc:
        return {"error": exc.message}
    finally:
        db.close()
