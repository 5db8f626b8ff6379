"""Reference, platform and registries-config parsing (no services needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bundler.oci.config import registries_from_dict
from bundler.oci.errors import BadReferenceError, OCIError
from bundler.oci.platform import Platform, parse_platform
from bundler.oci.reference import parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("text", "registry", "repo", "tag", "digest"), [
    ("127.0.0.1:5055/apps/web:1.2", "127.0.0.1:5055", "apps/web", "1.2", None),
    (f"127.0.0.1:5055/apps/web@{DIGEST}", "127.0.0.1:5055", "apps/web", None, DIGEST),
    (f"reg.example/a/b:v1@{DIGEST}", "reg.example", "a/b", "v1", DIGEST),
    ("localhost/web", "localhost", "web", "latest", None),
    ("nginx", "docker.io", "library/nginx", "latest", None),
    ("acme/web:2", "docker.io", "acme/web", "2", None),
])
def test_parse_reference(text: str, registry: str, repo: str, tag: str | None,
                         digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert ref.identifier == (digest or tag)


@pytest.mark.parametrize("text", ["", "Web:1", "a b", "x@sha256:abc", "127.0.0.1:5055/x:t!g"])
def test_bad_reference(text: str) -> None:
    with pytest.raises(BadReferenceError):
        parse_reference(text)


def test_platforms() -> None:
    assert parse_platform("linux/arm64").matches(Platform("linux", "arm64", "v8"))
    assert not parse_platform("linux/arm/v7").matches(Platform("linux", "arm", "v6"))
    with pytest.raises(BadReferenceError):
        parse_platform("linux")


def test_registries_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = base64.b64encode(b"alice:s3cret").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"reg.example": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("REG_PW", "pw")
    regs = registries_from_dict({"127.0.0.1:5055": {"insecure": True},
                                 "other.example": {"username": "bob", "password_env": "REG_PW"}})
    assert regs.get("127.0.0.1:5055").base_url == "http://127.0.0.1:5055"
    creds = regs.get("reg.example").credentials
    assert creds is not None and (creds.username, creds.password) == ("alice", "s3cret")
    assert "s3cret" not in repr(creds)
    assert regs.get("other.example").credentials.password == "pw"  # type: ignore[union-attr]
    assert regs.get("reg.example").base_url == "https://reg.example"
    with pytest.raises(OCIError, match="only allowed for loopback"):
        registries_from_dict({"reg.example": {"insecure": True}})
    with pytest.raises(OCIError, match="unknown keys"):
        registries_from_dict({"reg.example": {"insecur": True}})


def test_a_hostile_docker_config_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Docker config is read through the bounded reader: a FIFO is refused without blocking, a huge
    file without being read, nesting past the parser is an auth error; a missing one means no credentials."""
    import os

    from bundler.oci.credentials import docker_config_credentials
    from bundler.oci.errors import AuthError
    from kit.errors import InputTooLarge, SpecialFile
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_config_credentials("reg.example") is None                   # no config: no credentials
    config = tmp_path / "config.json"
    os.mkfifo(config)
    with pytest.raises(SpecialFile, match="FIFO"):
        docker_config_credentials("reg.example")
    config.unlink()
    with open(config, "wb") as f:                                             # sparse: 8 GiB, nothing read
        f.truncate(8 << 30)
    with pytest.raises(InputTooLarge):
        docker_config_credentials("reg.example")
    config.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(AuthError, match="not JSON"):
        docker_config_credentials("reg.example")
