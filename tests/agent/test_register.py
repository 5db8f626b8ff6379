"""``stella-agent register`` and ``status`` end to end: a real ``stella serve`` on 127.0.0.1 (plain
HTTP, and HTTPS checked with --ca-file), the agent CLI as a subprocess, files and modes as an
operator would look at them (issue 14)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.appliance.helpers import ROOT
from tests.appliance.web.conftest import Service, _cli, free_port, self_signed, site_home, start_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service(site_home(tmp_path_factory.mktemp("agent-e2e"), site=False))
    try:
        yield svc
    finally:
        svc.stop()


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", *args], text=True,
                          capture_output=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def token(svc: Service, labels: str = "role=web,site=berlin") -> dict[str, Any]:
    r = _cli(svc.home, "agent", "token", "create", "--labels", labels, "--json", user="admin")
    assert r.exit_code == 0, r.output
    made: dict[str, Any] = json.loads(r.output)
    return made


def register(svc: Service, made: dict[str, Any], state: Path, name: str,
             *extra: str) -> subprocess.CompletedProcess[str]:
    return agent("register", "--appliance", svc.base_url, "--token", made["token"], "--state", str(state),
                 "--name", name, "--ca-fingerprint", made["caFingerprint"], *extra)


def test_register_then_status(service: Service, tmp_path: Path) -> None:
    made, state = token(service), tmp_path / "state"
    r = register(service, made, state, "web-1", "--capability", "compose", "--capability", "docker")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"registered web-1 with {service.base_url} (appliance {made['caFingerprint']})")
    assert sorted(p.name for p in state.iterdir()) == ["ca.pem", "cert.pem", "key.pem", "registration.json"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "key.pem").stat().st_mode) == 0o600
    key = serialization.load_pem_private_key((state / "key.pem").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((state / "cert.pem").read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate((state / "ca.pem").read_bytes()))
    assert cert.public_key() == key.public_key()
    assert (state / "ca.pem").read_bytes() == (service.home / "agents" / "ca" / "cert.pem").read_bytes()
    # the appliance lists it with the token's labels and the announced capabilities
    listed = {a["name"]: a for a in json.loads(_cli(service.home, "agent", "list", "--json", user="admin").output)}
    assert listed["web-1"]["labels"] == {"role": "web", "site": "berlin"}
    assert listed["web-1"]["capabilities"] == ["compose", "docker"] and listed["web-1"]["address"] == "127.0.0.1"
    s = agent("status", "--state", str(state), "--json")
    assert s.returncode == 0, s.stderr
    shown = json.loads(s.stdout)
    assert shown["name"] == "web-1" and shown["state"] == "registered" and shown["applianceId"] == made["caFingerprint"]
    assert 88 <= shown["certificateDaysLeft"] <= 90
    text = agent("status", "--state", str(state))
    assert text.returncode == 0 and text.stdout.startswith("web-1: registered with ")


def test_refusals_are_one_line_with_the_exit_codes_of_the_other_clis(service: Service, tmp_path: Path) -> None:
    made = token(service)
    assert register(service, made, tmp_path / "a", "web-2").returncode == 0
    before = sorted(p.read_bytes() for p in (tmp_path / "a").iterdir())
    cases = [
        # an existing registration is never overwritten (5), whatever the token
        (register(service, token(service), tmp_path / "a", "web-2b"), 5, "already-registered"),
        # the token was used (1)
        (register(service, made, tmp_path / "b", "web-3"), 1, "token-refused"),
        # the name is taken (5)
        (register(service, token(service), tmp_path / "c", "web-2"), 5, "agent-exists"),
        # a bad name never leaves the host (3)
        (register(service, token(service), tmp_path / "d", "Web_4"), 3, "bad-message"),
        # plain http to a non-loopback address (2), a malformed fingerprint (2)
        (agent("register", "--appliance", "http://appliance.example:8444", "--token", made["token"], "--state",
               str(tmp_path / "e"), "--ca-fingerprint", made["caFingerprint"]), 2, "usage"),
        (agent("register", "--appliance", service.base_url, "--token", made["token"], "--state",
               str(tmp_path / "f"), "--ca-fingerprint", "sha256:abc"), 2, "usage"),
        # nobody listens there (4)
        (agent("register", "--appliance", f"http://127.0.0.1:{free_port()}", "--token", made["token"], "--state",
               str(tmp_path / "g"), "--ca-fingerprint", made["caFingerprint"]), 4, "io-error"),
        # no registration to show (2)
        (agent("status", "--state", str(tmp_path / "h")), 2, "not-registered"),
    ]
    for result, code, kind in cases:
        assert (result.returncode, result.stdout) == (code, ""), result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("stella-agent ") and f"error: {kind}: " in lines[0], lines
    assert sorted(p.read_bytes() for p in (tmp_path / "a").iterdir()) == before
    for d in "bcdg":
        assert not (tmp_path / d).exists() or not any((tmp_path / d).iterdir())


def test_a_wrong_ca_fingerprint_writes_nothing(service: Service, tmp_path: Path) -> None:
    made = token(service)
    other = "sha256:" + "00" * 32
    r = agent("register", "--appliance", service.base_url, "--token", made["token"], "--state", str(tmp_path / "s"),
              "--name", "web-5", "--ca-fingerprint", other)
    assert r.returncode == 1 and "error: ca-mismatch: " in r.stderr, r.stderr
    assert not any((tmp_path / "s").iterdir())


def test_register_over_https_checked_with_ca_file(service: Service, tmp_path: Path) -> None:
    """The same home served over TLS (a test certificate): --ca-file verifies it; without it the
    system's CAs refuse the appliance's certificate."""
    cert, key = self_signed(tmp_path / "tls")
    tls = start_service(service.home, tls=(cert, key))
    try:
        made = token(service)
        untrusted = agent("register", "--appliance", tls.base_url, "--token", made["token"], "--state",
                          str(tmp_path / "u"), "--name", "tls-1", "--ca-fingerprint", made["caFingerprint"])
        assert untrusted.returncode == 4 and "io-error" in untrusted.stderr, untrusted.stderr
        ok = agent("register", "--appliance", tls.base_url, "--token", made["token"], "--state",
                   str(tmp_path / "t"), "--name", "tls-1", "--ca-fingerprint", made["caFingerprint"],
                   "--ca-file", str(cert))
        assert ok.returncode == 0, ok.stderr
    finally:
        tls.stop()


def test_racing_registrations_share_one_token_once(service: Service) -> None:
    """Eight agents post the same token at once to the real server: exactly one is registered."""
    import httpx

    from tests.appliance.web.test_agents import body

    made = token(service)
    names = [f"race-{i}" for i in range(8)]
    bodies = {n: body(made["token"], n) for n in names}

    def post(name: str) -> int:
        with httpx.Client(base_url=service.base_url, timeout=30) as c:
            return c.post("/agent/v1/register", json=bodies[name]).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, names))
    assert sorted(statuses) == [200] + [403] * 7, statuses
    listed = {a["name"] for a in json.loads(_cli(service.home, "agent", "list", "--json", user="admin").output)}
    assert len(listed & set(names)) == 1


def test_one_agent_ca_even_when_made_at_once(tmp_path: Path) -> None:
    from appliance.agents import ca
    from appliance.home import Home
    from kit.timeutil import now

    home = Home(tmp_path)
    with ThreadPoolExecutor(6) as pool:
        made = list(pool.map(lambda _: ca.ensure(home, now()).fingerprint, range(6)))
    assert len(set(made)) == 1
    assert [p.name for p in (tmp_path / "agents").iterdir()] == ["ca"]
    assert made[0] == ca.load(home).fingerprint  # type: ignore[union-attr]
