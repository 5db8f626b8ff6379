"""Loopback registries are reached over plain HTTP without ``insecure``, as Docker does;
every other host stays HTTPS-only unless configured otherwise.

Unit tests never send traffic anywhere (httpx.MockTransport answers); the integration tests
talk only to the loopback test registry ($STELLA_TEST_REGISTRY).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bundler.build import build_kit
from bundler.commands.sbom import sbom
from bundler.oci import (
    OCIError,
    Registries,
    RegistryClient,
    RegistryConfig,
    parse_reference,
    pull_images,
    registries_from_dict,
)
from bundler.oci.errors import RegistryUnreachableError
from bundler.spec import load_spec
from kit.crypto import generate
from kit.format import KitReader
from kit.registryhost import plain_http_by_default
from tests.images import Published

LOOPBACK = ["127.0.0.1", "127.0.0.1:5000", "127.5.6.7", "127.255.255.254:443", "localhost", "localhost:5000",
            "LOCALHOST:5000", "[::1]", "[::1]:5000", "::1", "[::ffff:127.0.0.1]:5000"]
NOT_LOOPBACK = ["localhost.example.com", "localhost.example.com:5000", "my-localhost:5000", "foo.localhost:5000",
                "10.0.0.1", "10.0.0.1:5000", "192.168.1.10:5000", "172.16.0.1", "registry.example:5000",
                "registry.example", "docker.io", "128.0.0.1", "126.255.255.255:5000", "0.0.0.0:5000",
                "127.0.0.1.nip.io:5000", "[::2]:5000", "[::]:5000", "[::ffff:10.0.0.1]:5000",
                "localhost:port", "[::1]x", "[::1", ""]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts_are_plain_http_by_default(host: str) -> None:
    assert plain_http_by_default(host)


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_other_hosts_are_not(host: str) -> None:
    assert not plain_http_by_default(host)


@pytest.mark.parametrize(("cfg", "urls"), [
    (RegistryConfig("127.0.0.1:5000"), ("https://127.0.0.1:5000", "http://127.0.0.1:5000")),
    (RegistryConfig("localhost:5000"), ("https://localhost:5000", "http://localhost:5000")),
    (RegistryConfig("[::1]:5000"), ("https://[::1]:5000", "http://[::1]:5000")),
    (RegistryConfig("127.0.0.1:5000", insecure=True), ("http://127.0.0.1:5000",)),
    (RegistryConfig("registry.example:5000"), ("https://registry.example:5000",)),
    (RegistryConfig("10.0.0.1:5000"), ("https://10.0.0.1:5000",)),
    (RegistryConfig("localhost.example.com"), ("https://localhost.example.com",)),
    (RegistryConfig("10.0.0.1:5000", url="http://10.0.0.1:5000/"), ("http://10.0.0.1:5000",)),
    (RegistryConfig("127.0.0.1:5000", url="https://127.0.0.1:5000"), ("https://127.0.0.1:5000",)),
])
def test_base_urls(cfg: RegistryConfig, urls: tuple[str, ...]) -> None:
    assert cfg.base_urls == urls and cfg.base_url == urls[0]


def test_unconfigured_hosts_get_the_same_urls() -> None:
    regs = Registries()
    assert regs.get("127.0.0.1:5055").base_urls == ("https://127.0.0.1:5055", "http://127.0.0.1:5055")
    assert regs.get("registry.example").base_urls == ("https://registry.example",)


def test_insecure_is_still_refused_for_other_hosts() -> None:
    for host in ("registry.example:5000", "10.0.0.1:5000", "localhost.example.com"):
        with pytest.raises(OCIError, match="only allowed for loopback"):
            registries_from_dict({host: {"insecure": True}})
    regs = registries_from_dict({"localhost:5000": {"insecure": True}, "[::1]:5000": {"insecure": True}})
    assert regs.get("localhost:5000").base_urls == ("http://localhost:5000",)
    assert regs.get("[::1]:5000").base_urls == ("http://[::1]:5000",)


def test_sbom_insecure_still_refused_for_other_hosts() -> None:
    result = CliRunner().invoke(sbom, ["registry.example:5000/app:1", "--insecure"])
    assert result.exit_code == 2 and "only allowed for loopback" in result.output


MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "0" * 64, "size": 2},
                       "layers": []}).encode()


def _client(host: str, handler: Callable[[httpx.Request], httpx.Response],
            registries: Registries | None = None) -> tuple[RegistryClient, list[str]]:
    """A RegistryClient whose transport for *host* is a mock: no request leaves the process."""
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        return handler(request)

    client = RegistryClient(registries)
    client._clients[host] = httpx.Client(transport=httpx.MockTransport(record))
    return client, seen


def _serve_manifest(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v2/":
        return httpx.Response(200, json={})
    return httpx.Response(200, content=MANIFEST,
                          headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def _plain_http_only(request: httpx.Request) -> httpx.Response:
    if request.url.scheme == "https":
        raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number", request=request)
    return _serve_manifest(request)


@pytest.mark.parametrize("host", ["registry.example:5000", "10.0.0.1:5000", "localhost.example.com"])
def test_other_hosts_use_https_only_without_a_probe(host: str) -> None:
    client, seen = _client(host, _serve_manifest)
    with client:
        client.get_manifest(parse_reference(f"{host}/app:1"))
    assert seen == [f"GET https://{host}/v2/app/manifests/1"]


@pytest.mark.parametrize("host", ["registry.example:5000", "10.0.0.1:5000"])
def test_other_hosts_never_fall_back_to_http(host: str) -> None:
    client, seen = _client(host, _plain_http_only)
    with client, pytest.raises(RegistryUnreachableError, match=f"unreachable at https://{host}"):
        client.get_manifest(parse_reference(f"{host}/app:1"))
    assert seen == [f"GET https://{host}/v2/app/manifests/1"]


@pytest.mark.parametrize("host", ["127.0.0.1:5000", "localhost:5000", "[::1]:5000"])
def test_loopback_falls_back_to_http_once_per_host(host: str) -> None:
    client, seen = _client(host, _plain_http_only)
    with client:
        ref = parse_reference(f"{host}/app:1")
        client.get_manifest(ref)
        client.get_manifest(ref)
    assert seen == [f"GET https://{host}/v2/", f"GET http://{host}/v2/",
                    f"GET http://{host}/v2/app/manifests/1", f"GET http://{host}/v2/app/manifests/1"]


def test_loopback_that_speaks_https_keeps_https() -> None:
    client, seen = _client("localhost:5000", _serve_manifest)
    with client:
        client.get_manifest(parse_reference("localhost:5000/app:1"))
    assert seen == ["GET https://localhost:5000/v2/", "GET https://localhost:5000/v2/app/manifests/1"]


def test_loopback_insecure_skips_https() -> None:
    host = "127.0.0.1:5000"
    client, seen = _client(host, _plain_http_only, Registries({host: RegistryConfig(host, insecure=True)}))
    with client:
        client.get_manifest(parse_reference(f"{host}/app:1"))
    assert seen == [f"GET http://{host}/v2/app/manifests/1"]


def test_loopback_unreachable_names_both_attempts() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)
    client, _ = _client("127.0.0.1:5000", down)
    with client, pytest.raises(RegistryUnreachableError) as info:
        client.get_manifest(parse_reference("127.0.0.1:5000/app:1"))
    assert "https://127.0.0.1:5000: ConnectError" in str(info.value)
    assert "http://127.0.0.1:5000: ConnectError" in str(info.value)


# -- the real loopback test registry, with no `insecure` anywhere ------------------------


@pytest.mark.services
@pytest.mark.parametrize("alias", ["127.0.0.1", "localhost"])
def test_real_pull_without_insecure(images: Published, tmp_path: Path, alias: str) -> None:
    port = images.registry.rsplit(":", 1)[1]
    ref = images.deb.replace(images.registry, f"{alias}:{port}", 1)
    [img] = pull_images([ref], tmp_path / "layout", registries=Registries())
    assert img.digest == images.deb_digest


@pytest.mark.services
def test_real_sbom_without_insecure(images: Published, tmp_path: Path) -> None:
    out = tmp_path / "deb.cdx.json"
    result = CliRunner().invoke(sbom, [images.deb, "--out", str(out), "--created", "2026-12-02T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["bomFormat"] == "CycloneDX"


@pytest.mark.services
def test_real_build_from_kit_yaml_without_registries(images: Published, tmp_path: Path) -> None:
    spec = tmp_path / "kit.yaml"
    spec.write_text(f"""kit: {{name: loop, channel: stable, sequence: 1, created: 2026-11-01T00:00:00Z,
      expires: 2027-11-01T00:00:00Z}}
platforms: [linux/amd64]
releases:
  - name: base
    version: "1.0"
    components:
      base: {images.deb}
""")
    kit = build_kit(load_spec(spec), [generate()], tmp_path / "loop.stella-kit").path
    manifest = KitReader(kit).verify(trust=None, at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
                                        manifest_only=True).manifest
    assert manifest is not None
    assert f"blobs/sha256/{images.deb_digest.split(':')[1]}" in {e.path for e in manifest.entries}
