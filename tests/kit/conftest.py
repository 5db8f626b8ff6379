from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kit.crypto import Signer, generate
from kit.trust import build_root, load_root_envelope
from kit.trust.root import TrustRoot

FAR = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def key_a() -> Signer:
    return generate("default")


@pytest.fixture(scope="session")
def key_b() -> Signer:
    return generate("default")


@pytest.fixture(scope="session")
def key_fips() -> Signer:
    return generate("fips")


@pytest.fixture(scope="session")
def stranger() -> Signer:
    return generate("default")


def make_root(signers: list[Signer], threshold: int, channels: tuple[str, ...] = ("stable",), version: int = 1,
              expires: dt.datetime = FAR, extra_signers: list[Signer] | None = None) -> TrustRoot:
    publics = [s.public_key for s in signers]
    env = build_root(version=version, expires=expires, keys=publics, root_threshold=threshold,
                     channels={c: (publics, threshold) for c in channels},
                     signers=[*signers, *(extra_signers or [])])
    return load_root_envelope(env.to_bytes())


@pytest.fixture(scope="session")
def root_2of2(key_a: Signer, key_b: Signer) -> TrustRoot:
    return make_root([key_a, key_b], 2)


@pytest.fixture()
def tmp(tmp_path: Path) -> Path:
    return tmp_path
