from __future__ import annotations

from pathlib import Path

import pytest

from kit.crypto import Signer, generate
from kit.trust.root import TrustRoot
from tests.appliance.helpers import make_root, stella


@pytest.fixture(scope="session")
def signer() -> Signer:
    return generate("default")


@pytest.fixture(scope="session")
def root(signer: Signer) -> TrustRoot:
    return make_root([signer])


@pytest.fixture()
def trust_file(tmp_path: Path, root: TrustRoot) -> Path:
    path = tmp_path / "trust.json"
    path.write_bytes(root.envelope.to_bytes())
    return path


@pytest.fixture()
def home(tmp_path: Path, trust_file: Path) -> Path:
    """An initialised appliance home (registry address on a closed port: autoseed is a no-op)."""
    target = tmp_path / "home"
    result = stella("init", "--trust", str(trust_file), "--registry-addr", "127.0.0.1:9", home=target)
    assert result.exit_code == 0, result.output
    return target
