"""Shared fixtures. Services (dockerd, registry) come from ./build.sh test.

Under CI=true a missing service is a failure, not a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI") == "true"

# In CI the property tests draw the same examples every run (a landing never depends on
# luck); developers get fresh random examples, and a failure prints its reproducer.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if IN_CI else "dev")


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is not available, and CI=true requires it (run ./build.sh test)")
    pytest.skip(f"{what} is not available (run ./build.sh test to start it)")


@pytest.fixture(scope="session")
def docker_host() -> str:
    """``unix://…`` of the private test dockerd."""
    host = os.environ.get("DOCKER_HOST", "")
    sock = host.removeprefix("unix://")
    if not host.startswith("unix://") or not Path(sock).is_socket():
        _missing("the test Docker engine (DOCKER_HOST)")
    return host


@pytest.fixture(scope="session")
def registry() -> str:
    """``127.0.0.1:PORT`` of the private test registry."""
    addr = os.environ.get("STELLA_TEST_REGISTRY", "")
    if not addr.startswith("127.0.0.1:"):
        _missing("the test registry (STELLA_TEST_REGISTRY)")
    return addr


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real data nobody on the project wrote."""
    path = SHARED / "data"
    if not path.is_dir():
        _missing(f"the shared data folder {path}")
    return path


@pytest.fixture(scope="session")
def images(registry: str, docker_host: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Real images in the test registry (docker import + hand-made OCI), pushed once per session."""
    from tests.images import publish
    return publish(registry, docker_host, tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def registries(registry: str):  # type: ignore[no-untyped-def]
    """The test registry over plain HTTP (it is loopback)."""
    from bundler.oci import Registries, RegistryConfig
    return Registries({registry: RegistryConfig(registry, insecure=True)})


@pytest.fixture()
def layout_dir(tmp_path: Path) -> Path:
    """A fresh OCI layout directory."""
    return tmp_path / "layout"
