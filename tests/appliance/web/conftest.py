"""A real ``stella serve`` on 127.0.0.1 for the web tests (API with httpx, console with chromium).

Fixtures (all start a real ``stella serve`` subprocess; nothing goes beyond loopback):

- ``service`` (module-scoped): one server per test module over a home holding the
  promotions site (environments dev → stage → prod, prod needing 2 approvals with
  separation of duties; web@1.0.0 and web@2.0.0 imported) and the users below with their
  console passwords. Tests of one module share its state: do not assume a pristine home.
- ``fresh_service`` (function-scoped): the same, but a home of its own for one test.
- ``serve`` (function-scoped): a factory ``serve(home, tls=False) -> Service`` to run a
  server over any home (e.g. one a deploy test built); stopped after the test.
- ``site_home(dir)`` (plain function): build such a home yourself.

A ``Service`` has:

- ``base_url`` ("http://127.0.0.1:PORT" or https), ``home`` (Path), ``ca`` (the PEM
  certificate to verify against when TLS, else None);
- ``client(**kw) -> httpx.Client``: unauthenticated, ``base_url`` set;
- ``login(user, password=None) -> httpx.Client``: logged in by ``POST /api/v1/login``
  (session cookie kept by the client, ``X-CSRF-Token`` set on every request);
- ``token(user, expires=None) -> str``: a fresh API token (``stella token create``, as
  admin); use it as ``Authorization: Bearer …`` (``bearer(user)`` gives such a client);
- ``stella(*args, user=None) -> click Result``: the CLI on the same home (``--as user``);
- ``PASSWORDS[user]``: each user's console password (for the browser tests).

Users: admin (admin, auditor), alice (requester), bob and carol (approver),
dave (deployer), erin (auditor).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result

from kit.crypto import Signer, generate
from tests.appliance.helpers import ROOT, make_root, stella
from tests.appliance.promotions.conftest import ADVISORIES, PACKAGES, SNAPSHOT, VEX
from tests.appliance.promotions.kits import release_files, site_kit

USERS: dict[str, tuple[str, ...]] = {
    "admin": ("admin", "auditor"),
    "alice": ("requester",),
    "bob": ("approver",),
    "carol": ("approver",),
    "dave": ("deployer",),
    "erin": ("auditor",),
}
PASSWORDS: dict[str, str] = {name: f"{name}-correct-horse-battery" for name in USERS}
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cli(home: Path, *args: str, user: str | None = None, stdin: str | None = None) -> Result:
    from click.testing import CliRunner

    from appliance.cli import cli
    argv = [*args, *(["--as", user] if user else []), "--home", str(home)]
    return CliRunner().invoke(cli, argv, input=stdin, catch_exceptions=False)


def site_home(workdir: Path, signer: Signer | None = None, *, registry_addr: str = "127.0.0.1:9",
              site: bool = True) -> Path:
    """An initialised home in *workdir*/home with USERS and their PASSWORDS; with *site*,
    also dev/stage/prod and web@1.0.0 + web@2.0.0 imported (as the promotions tests' site)."""
    signer = signer or generate("default")
    workdir.mkdir(parents=True, exist_ok=True)
    trust = workdir / "trust.json"
    trust.write_bytes(make_root([signer]).envelope.to_bytes())
    home = workdir / "home"
    result = stella("init", "--trust", str(trust), "--registry-addr", registry_addr, home=home)
    assert result.exit_code == 0, result.output
    for name, roles in USERS.items():
        result = _cli(home, "user", "add", name, *[x for r in roles for x in ("--role", r)],
                      user=None if name == "admin" else "admin")
        assert result.exit_code == 0, result.output
        result = _cli(home, "user", "passwd", name, "--password-stdin", user="admin", stdin=PASSWORDS[name] + "\n")
        assert result.exit_code == 0, result.output
    if site:
        kit_path = workdir / "site-1.stella-kit"
        rels = {**release_files("web", "1.0.0", PACKAGES),
                **release_files("web", "2.0.0", [("requests", "2.31.0"), ("flask", "3.0.0")])}
        site_kit(kit_path, [signer], sequence=1, advisories=ADVISORIES, snapshot=SNAPSHOT, releases=rels, vex=VEX)
        result = stella("import", str(kit_path), "--no-seed", home=home)
        assert result.exit_code == 0, result.output
        for env, order, extra in (("dev", 1, []), ("stage", 2, []),
                                  ("prod", 3, ["--requires-approvals", "2", "--separation-of-duties"])):
            result = _cli(home, "env", "create", env, "--order", str(order), *extra, user="admin")
            assert result.exit_code == 0, result.output
    return home


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    workdir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stella test")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _verify(ca: Path | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(ca)) if ca else True


@dataclass
class Service:
    """A running ``stella serve`` (see the module docstring)."""

    base_url: str
    home: Path
    proc: subprocess.Popen[bytes]
    ca: Path | None = None
    clients: list[httpx.Client] = field(default_factory=list)
    agent_url: str = ""         # the agents' mutual-TLS listener, https://127.0.0.1:PORT
    PASSWORDS: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))

    def client(self, **kw: Any) -> httpx.Client:
        kw.setdefault("timeout", 30.0)
        kw.setdefault("verify", _verify(self.ca))
        c = httpx.Client(base_url=self.base_url, **kw)
        self.clients.append(c)
        return c

    def login(self, user: str, password: str | None = None) -> httpx.Client:
        """A client logged in as *user* (session cookie; X-CSRF-Token on every request)."""
        c = self.client()
        r = c.post("/api/v1/login", json={"user": user, "password": password or self.PASSWORDS[user]})
        if r.status_code != 200:
            raise AssertionError(f"login as {user} failed: {r.status_code} {r.text}")
        c.headers["X-CSRF-Token"] = r.json()["csrfToken"]
        return c

    def token(self, user: str, expires: str | None = None) -> str:
        """A fresh API token for *user* (created by admin with ``stella token create``)."""
        import json
        extra = ["--expires", expires] if expires else []
        result = self.stella("token", "create", "--user", user, *extra, "--json", user="admin")
        assert result.exit_code == 0, result.output
        return str(json.loads(result.output)["token"])

    def bearer(self, user: str) -> httpx.Client:
        """A client authenticated by a fresh API token of *user* (no cookie, no CSRF)."""
        return self.client(headers={"Authorization": f"Bearer {self.token(user)}"})

    def stella(self, *args: str, user: str | None = None, stdin: str | None = None) -> Result:
        return _cli(self.home, *args, user=user, stdin=stdin)

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_service(home: Path, *, tls: tuple[Path, Path] | None = None, env: dict[str, str] | None = None) -> Service:
    """Start ``stella serve`` over *home* on a free loopback port (and its agent listener on
    another, ``agent_url``), with *env* added to its environment; wait until it answers."""
    port, agent_port = free_port(), free_port()
    args = ["serve", "--listen", f"127.0.0.1:{port}", "--agent-listen", f"127.0.0.1:{agent_port}",
            "--home", str(home)]
    if tls:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    else:
        args += ["--no-tls"]  # plain HTTP on loopback, though stella init left a certificate in the home
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environ.pop("STELLA_USER", None)
    proc = subprocess.Popen([sys.executable, "-c", "from appliance.cli import main; main()", *args], env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    scheme = "https" if tls else "http"
    service = Service(f"{scheme}://127.0.0.1:{port}", home, proc, ca=tls[0] if tls else None,
                      agent_url=f"https://127.0.0.1:{agent_port}")
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(verify=_verify(tls[0] if tls else None), timeout=2.0) as probe:
        while True:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"stella serve exited {proc.returncode}: {err.decode()}{out.decode()}")
            try:
                if probe.get(f"{service.base_url}/api/v1/openapi.json").status_code == 200:
                    return service
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                service.stop()
                raise AssertionError(f"stella serve did not answer on {service.base_url} in {START_TIMEOUT}s")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, signer: Signer) -> Iterator[Service]:
    """A real server over a site home shared by the tests of one module."""
    svc = start_service(site_home(tmp_path_factory.mktemp("service"), signer))
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture()
def fresh_service(tmp_path: Path, signer: Signer) -> Iterator[Service]:
    """A real server over a site home of its own (one test)."""
    svc = start_service(site_home(tmp_path / "fresh", signer))
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``serve(home, tls=False) -> Service``: a server over any home, stopped after the test."""
    started: list[Service] = []

    def _serve(home: Path, tls: bool = False) -> Service:
        pair = self_signed(tmp_path / f"tls{len(started)}") if tls else None
        svc = start_service(home, tls=pair)
        started.append(svc)
        return svc

    try:
        yield _serve
    finally:
        for svc in started:
            svc.stop()
