"""``stella init``: create the home, the database, the appliance key and the first trust root."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from appliance import audit, keys, lock, trust
from appliance.errors import AlreadyInitialised
from appliance.home import Home, actor as current_actor
from appliance.registry import config as registry_config
from appliance.store.db import open_db, transaction
from kit.crypto.keys import Signer
from kit.trust.root import read_root_file, verify_chain


def init_home(home: Home, trust_file: Path, at: dt.datetime, profile: str = "default",
              registry_addr: str = registry_config.DEFAULT_ADDR) -> Signer:
    """Initialise *home*; refuses a home that already holds an appliance.

    The trust root is checked first (self-signed by its root threshold, not expired),
    so a bad root leaves nothing behind.

    Raises:
        ConflictError: the home is already initialised.
        KitFormatError / KitVerificationError: the trust root is malformed or not valid.
    """
    if home.is_initialised() or home.db_path.exists():
        raise AlreadyInitialised(f"{home.root} already holds an appliance (stella.db exists)")
    root = read_root_file(trust_file)
    verify_chain([root], at)
    home.make_dirs()
    with lock.exclusive(home.lock_path, 0, "another stella init or import"):
        signer = keys.create(home, profile)
        registry_config.write_default(home, registry_addr)
        db = open_db(home.db_path, create=True)
        try:
            who = current_actor()
            with transaction(db):
                audit.append(db, who, "appliance.init", {"home": str(home.root), "applianceKey": signer.keyid,
                                                         "profile": profile, "registry": registry_addr})
            trust.install_first(home, db, root, who, at)
        finally:
            db.close()
    return signer
