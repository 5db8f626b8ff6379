"""Local registry settings (``registry/registry.json``) and the docker-registry config it generates.

The address defaults to 127.0.0.1:5000; storage lives in ``registry/storage`` under the
home. The generated ``config.yml`` never enables auth or listens beyond the address
configured here (Debian's packaged config listens on every interface: not used).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from appliance.home import Home

DEFAULT_ADDR = "127.0.0.1:5000"
SETTINGS = "registry.json"
BINARY = "/usr/bin/docker-registry"


@dataclass(frozen=True)
class RegistrySettings:
    addr: str = DEFAULT_ADDR
    autoseed: bool = True          # seed after each import when the registry answers

    def to_dict(self) -> dict[str, object]:
        return {"addr": self.addr, "autoseed": self.autoseed}


def settings_path(home: Home) -> Path:
    return home.registry / SETTINGS


def load(home: Home) -> RegistrySettings:
    path = settings_path(home)
    if not path.is_file():
        return RegistrySettings()
    raw = json.loads(path.read_text())
    return RegistrySettings(str(raw.get("addr", DEFAULT_ADDR)), bool(raw.get("autoseed", True)))


def save(home: Home, settings: RegistrySettings) -> None:
    home.registry.mkdir(parents=True, exist_ok=True)
    settings_path(home).write_text(json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n")


def write_default(home: Home, addr: str = DEFAULT_ADDR) -> None:
    if not settings_path(home).exists():
        save(home, RegistrySettings(addr))


def render(home: Home, settings: RegistrySettings) -> str:
    """The docker-registry (distribution 2.8) YAML for this home (JSON is valid YAML)."""
    doc = {"version": 0.1,
           "log": {"level": "info", "accesslog": {"disabled": True}},
           "storage": {"filesystem": {"rootdirectory": str(home.registry / "storage")},
                       "delete": {"enabled": False}},
           "http": {"addr": settings.addr, "headers": {"X-Content-Type-Options": ["nosniff"]}},
           "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}}}
    return json.dumps(doc, indent=2) + "\n"


def write_config(home: Home, settings: RegistrySettings) -> Path:
    path = home.registry / "config.yml"
    (home.registry / "storage").mkdir(parents=True, exist_ok=True)
    path.write_text(render(home, settings))
    return path
