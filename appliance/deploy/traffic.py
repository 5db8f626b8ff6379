"""Blue-green traffic on a host: each colour's port, and the reverse proxy's upstream file.

A blue-green target is set up by its admin in the target's env file (the file Compose
already reads for ``${VAR}`` values; docs/deploy.md "Blue-green")::

    STELLA_BLUE_PORT=18081                  # the port the blue stack listens on
    STELLA_GREEN_PORT=18082                 # the port the green stack listens on
    STELLA_UPSTREAM_FILE=/etc/nginx/stella/shop.upstream   # the file the proxy includes
    STELLA_PROXY_RELOAD=nginx -s reload     # run (no shell) after the file changed
    STELLA_UPSTREAM_HOST=127.0.0.1          # optional: the host the proxy dials
    STELLA_DRAIN_SECONDS=2                  # optional: old colour kept this long after the switch

The colour being started sees ``STELLA_COLOUR`` and ``STELLA_PORT`` (its own port) in
its Compose interpolation: the appliance writes a per-colour env file (the target's
lines, those two appended) and passes it to Compose instead of the target's.

The switch writes ``server HOST:PORT;`` to the upstream file (temporary file, fsync,
rename: the proxy never reads half a file) and runs the reload command. Switching back
puts the file's previous bytes back, exactly, and reloads again.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.deploy.errors import BlueGreenNotSetUp
from appliance.deploy.targets import Target
from appliance.home import Home

COLOURS = ("blue", "green")
RELOAD_TIMEOUT = 60.0
_KEYS = {"blue": "STELLA_BLUE_PORT", "green": "STELLA_GREEN_PORT"}
_OWN = ("STELLA_COLOUR", "STELLA_PORT")         # the appliance's: never taken from the target's file


@dataclass(frozen=True)
class Switch:
    """How traffic reaches one target: a port per colour and the proxy's upstream file."""

    ports: dict[str, int]
    upstream_file: Path
    reload: tuple[str, ...]
    upstream_host: str = "127.0.0.1"
    drain_seconds: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        return {"ports": self.ports, "upstreamFile": str(self.upstream_file), "reload": list(self.reload),
                "upstreamHost": self.upstream_host, "drainSeconds": self.drain_seconds}


def other(colour: str | None) -> str:
    """The colour not live (blue when nothing is)."""
    return "green" if colour == "blue" else "blue"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads them (comments, blank lines and ``export`` skipped;
    one level of matching quotes removed)."""
    out = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _port(values: dict[str, str], key: str, where: str) -> int:
    text = values.get(key, "")
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise BlueGreenNotSetUp(f"{where}: {key} must be a port number (1-65535), not {text or 'missing'!r}")
    return int(text)


def switch_for(t: Target) -> Switch:
    """The target's blue-green set-up, read from its env file.

    Raises:
        BlueGreenNotSetUp: not a Compose target (Swarm, agent hosts), no env file, or a key missing or
            malformed (nothing has changed).
    """
    where = f"target {t.name}"
    if t.kind != "compose":
        raise BlueGreenNotSetUp(f"{where} is a {t.kind} target: blue-green switches a proxy beside Compose projects "
                                "on a host the appliance reaches (docs/deploy.md \"Blue-green\"); use rolling or "
                                "canary")
    if not t.env_file or not Path(t.env_file).is_file():
        raise BlueGreenNotSetUp(f"{where} has no env file with its blue-green set-up (stella target add … "
                                "--env-file FILE with STELLA_BLUE_PORT, STELLA_GREEN_PORT, STELLA_UPSTREAM_FILE, "
                                "STELLA_PROXY_RELOAD; docs/deploy.md)")
    where = f"{where} (env file {t.env_file})"
    taken = [k for k in _OWN if k in os.environ]
    if taken:                          # Compose prefers the process environment to the env file
        raise BlueGreenNotSetUp(f"{where}: the appliance's own environment sets {', '.join(taken)}, which would "
                                "override each colour's value in Compose; unset it")
    values = read_env_file(Path(t.env_file))
    ports = {c: _port(values, _KEYS[c], where) for c in COLOURS}
    if ports["blue"] == ports["green"]:
        raise BlueGreenNotSetUp(f"{where}: blue and green need two different ports (both {ports['blue']})")
    upstream = values.get("STELLA_UPSTREAM_FILE", "")
    if not upstream or not Path(upstream).is_absolute():
        raise BlueGreenNotSetUp(f"{where}: STELLA_UPSTREAM_FILE must be an absolute path (the file the proxy "
                                "includes)")
    if not Path(upstream).parent.is_dir():
        raise BlueGreenNotSetUp(f"{where}: the directory of STELLA_UPSTREAM_FILE {upstream} does not exist")
    try:
        reload = tuple(shlex.split(values.get("STELLA_PROXY_RELOAD", "")))
    except ValueError as exc:
        raise BlueGreenNotSetUp(f"{where}: STELLA_PROXY_RELOAD cannot be split into words ({exc})") from None
    if not reload:
        raise BlueGreenNotSetUp(f"{where}: STELLA_PROXY_RELOAD must name the command that reloads the proxy "
                                "(e.g. nginx -s reload)")
    drain = values.get("STELLA_DRAIN_SECONDS", "2")
    try:
        drain_seconds = float(drain)
    except ValueError:
        drain_seconds = -1.0
    if not 0 <= drain_seconds <= 3600:
        raise BlueGreenNotSetUp(f"{where}: STELLA_DRAIN_SECONDS must be 0-3600 seconds, not {drain!r}")
    return Switch(ports, Path(upstream), reload, values.get("STELLA_UPSTREAM_HOST") or "127.0.0.1", drain_seconds)


def colour_env_file(home: Home, t: Target, colour: str, sw: Switch) -> Path:
    """The env file Compose reads for *colour*: the target's lines, then the colour's own."""
    lines = []
    if t.env_file and Path(t.env_file).is_file():
        lines = [ln for ln in Path(t.env_file).read_text(encoding="utf-8").splitlines()
                 if ln.strip().removeprefix("export ").partition("=")[0].strip() not in _OWN]
    lines += [f"STELLA_COLOUR={colour}", f"STELLA_PORT={sw.ports[colour]}"]
    path = home.root / "deploy" / "targets" / t.name / f"{colour}.env"
    _write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def upstream_text(sw: Switch, colour: str, note: str) -> bytes:
    return f"# written by the Stella appliance (blue-green): {note}\nserver {sw.upstream_host}:" \
           f"{sw.ports[colour]};\n".encode()


def current_bytes(sw: Switch) -> bytes | None:
    """What the upstream file holds now (None: no file yet)."""
    try:
        return sw.upstream_file.read_bytes()
    except FileNotFoundError:
        return None


def _reload(sw: Switch) -> str | None:
    """Run the reload command; None when it exited 0, else why not."""
    try:
        proc = subprocess.run(list(sw.reload), capture_output=True, text=True, timeout=RELOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"the proxy reload ({shlex.join(sw.reload)}) did not finish in {RELOAD_TIMEOUT:g} s"
    except OSError as exc:
        return f"the proxy reload ({shlex.join(sw.reload)}) could not run: {exc.strerror}"
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        return (f"the proxy reload ({shlex.join(sw.reload)}) exited {proc.returncode}"
                + (f": {lines[-1].strip()}" if lines else ""))
    return None


def put(sw: Switch, data: bytes | None) -> dict[str, Any]:
    """Make the upstream file hold *data* (None: remove it) and reload the proxy.

    Returns facts for the evidence: ok, error, ms.
    """
    started = time.monotonic()
    facts: dict[str, Any] = {"upstreamFile": str(sw.upstream_file)}
    try:
        if data is None:
            sw.upstream_file.unlink(missing_ok=True)
        else:
            _write_atomic(sw.upstream_file, data)
        error = _reload(sw)
    except OSError as exc:
        error = f"cannot write {sw.upstream_file}: {exc.strerror}"
    facts.update(ok=error is None, error=error, ms=int((time.monotonic() - started) * 1000))
    return facts
