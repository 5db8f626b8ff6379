"""Certificate renewal from the agent's side (agent/run.py): due when a third of the lifetime is
left; ``renew`` against a real agent listener replaces key.pem, cert.pem and the expiry in
registration.json, and the appliance refuses the old certificate from then on."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent import state
from agent.channel import Channel
from agent.run import renew, renew_due
from kit.agentproto import PROTOCOL, Heartbeat
from kit.agentproto.errors import CertificateRefused
from kit.timeutil import format_time, now
from tests.agent.test_register import agent, token
from tests.appliance.web.conftest import Service, _cli, site_home, start_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service(site_home(tmp_path_factory.mktemp("agent-renew"), site=False),
                        env={"STELLA_AGENT_INTERVAL": "0.2"})
    try:
        yield svc
    finally:
        svc.stop()


def cert_valid(start: dt.datetime, days: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))


def test_renewal_is_due_when_a_third_of_the_lifetime_is_left() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = cert_valid(start, 90)
    assert not renew_due(cert, start + dt.timedelta(days=59))
    assert renew_due(cert, start + dt.timedelta(days=61))
    assert renew_due(cert, start + dt.timedelta(days=200))       # expired: due (the appliance will refuse it)


def test_renew_replaces_the_state_and_the_old_certificate_is_refused(service: Service, tmp_path: Path) -> None:
    made, folder = token(service), tmp_path / "state"
    r = agent("register", "--appliance", service.agent_url, "--token", made["token"], "--state", str(folder),
              "--name", "renew-1", "--ca-fingerprint", made["caFingerprint"])
    assert r.returncode == 0, r.stderr
    old_cert, old_key = (folder / "cert.pem").read_bytes(), (folder / "key.pem").read_bytes()
    old = tmp_path / "old"
    old.mkdir()
    for f in ("cert.pem", "key.pem", "ca.pem"):
        (old / f).write_bytes((folder / f).read_bytes())
    beat = Heartbeat(PROTOCOL, "renew-1", format_time(now()), ())
    with Channel(service.agent_url, folder, timeout=30) as channel:
        cert = renew(channel, folder, "renew-1")
    assert (folder / "cert.pem").read_bytes() != old_cert and (folder / "key.pem").read_bytes() != old_key
    key = serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None)
    assert cert.public_key() == key.public_key()
    assert (folder / "key.pem").stat().st_mode & 0o777 == 0o600
    assert state.load(folder).certificate_expires == format_time(cert.not_valid_after_utc)
    assert sorted(p.name for p in folder.iterdir()) == ["ca.pem", "cert.pem", "key.pem", "registration.json"]
    with Channel(service.agent_url, folder, timeout=30) as channel:
        assert channel.poll(beat) is None                            # the new one works
    with Channel(service.agent_url, old, timeout=30) as channel, \
            pytest.raises(CertificateRefused, match="no agent's current certificate"):
        channel.poll(beat)
    listed = {a["name"]: a for a in json.loads(_cli(service.home, "agent", "list", "--json", user="admin").output)}
    assert listed["renew-1"]["certificate"]["sha256"] == cert.fingerprint(hashes.SHA256()).hex()
