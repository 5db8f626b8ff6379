"""The appliance home: one directory holding all state (docs/appliance.md, "Home layout").

    stella.db            SQLite (WAL), numbered migrations
    blobs/sha256/<hex>   content store shared by all kits
    keys/                the appliance signing key (key.pem, key.pub.json)
    trust/               current.json (active trust root) and history/<version>.json
    staging/<import-id>/ blobs of an import in flight (finished or removed on start)
    quarantine/          refused kits with a JSON report
    records/             signed import records
    registry/            config.yml and storage of the local registry
    import.lock          flock taken by every import and trust update
    audit.head           the audit log's head, anchored outside the database
    agents/ca/           the agent CA (cert.pem, key.pem 0600), made on first use (appliance.agents.ca)
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import NotInitialisedError

DEFAULT_HOME = Path("/var/lib/stella")
SUBDIRS = ("blobs/sha256", "keys", "trust/history", "staging", "quarantine", "records", "registry")


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / "stella.db"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def trust(self) -> Path:
        return self.root / "trust"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    @property
    def lock_path(self) -> Path:
        return self.root / "import.lock"

    def is_initialised(self) -> bool:
        return self.db_path.is_file() and (self.keys / "key.pem").is_file()

    def require(self) -> Home:
        """Raises NotInitialisedError when ``stella init`` has not run here."""
        if not self.is_initialised():
            from appliance.store.guard import check_present
            check_present(self.db_path)        # its key but no database: lost, not new (DamagedHome)
            raise NotInitialisedError(f"{self.root} is not an initialised appliance home "
                                      "(run stella init --home DIR --trust ROOT.json)")
        return self

    def make_dirs(self) -> None:
        for sub in SUBDIRS:
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys, 0o700)


def resolve_home(option: str | Path | None) -> Home:
    """``--home`` wins, then ``STELLA_HOME``, then /var/lib/stella."""
    raw = option or os.environ.get("STELLA_HOME") or DEFAULT_HOME
    return Home(Path(raw).absolute())


def actor() -> str:
    """Who acts: ``STELLA_ACTOR`` (set by the console for its logged-in user) or the OS user."""
    return os.environ.get("STELLA_ACTOR") or getpass.getuser()


def fsync_dir(path: Path) -> None:
    """Make renames and creations inside *path* durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
