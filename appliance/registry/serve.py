"""Run the local registry: Debian's docker-registry with the config generated for the home.

``stella registry serve`` execs the registry in the foreground (what the systemd unit
runs); tests use :func:`start` to get a child process and stop it themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from appliance.errors import RegistryError
from appliance.home import Home
from appliance.registry import config


def binary() -> str:
    path = os.environ.get("STELLA_REGISTRY_BINARY") or shutil.which("docker-registry") or config.BINARY
    if not Path(path).is_file():
        raise RegistryError(f"docker-registry is not installed ({path}); apt-get install docker-registry")
    return path


def command(home: Home, settings: config.RegistrySettings) -> list[str]:
    return [binary(), "serve", str(config.write_config(home, settings))]


def exec_foreground(home: Home, settings: config.RegistrySettings) -> None:
    """Replace this process with the registry (never returns)."""
    argv = command(home, settings)
    os.execv(argv[0], argv)


def start(home: Home, settings: config.RegistrySettings, log: Path | None = None,
          timeout: float = 15.0) -> subprocess.Popen[bytes]:
    """Start the registry as a child and wait until /v2/ answers.

    Raises:
        RegistryError: it exits or does not answer within *timeout* seconds.
    """
    out = open(log or home.registry / "registry.log", "ab")
    proc = subprocess.Popen(command(home, settings), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RegistryError(f"docker-registry exited with {proc.returncode}; see {out.name}")
        try:
            if httpx.get(f"http://{settings.addr}/v2/", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RegistryError(f"docker-registry did not answer on {settings.addr} within {timeout:g}s")
