"""Session fixture: the shared test images, built and pushed once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# tests/ is not a package; make ``tests.images`` importable (pyproject could set pythonpath).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bundler.oci import Registries, RegistryConfig
from tests.images import Published, publish  # noqa: E402


@pytest.fixture(scope="session")
def images(registry: str, docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """Real images in the test registry (docker import + hand-made OCI)."""
    return publish(registry, docker_host, tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def registries(registry: str) -> Registries:
    """The test registry over plain HTTP (it is loopback)."""
    return Registries({registry: RegistryConfig(registry, insecure=True)})


@pytest.fixture()
def layout_dir(tmp_path: Path) -> Path:
    """A fresh OCI layout directory."""
    return tmp_path / "layout"
